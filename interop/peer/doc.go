// Package peer drives X's official Chat XDK as a live interop peer.
//
// The SDK (npm @xdevplatform/chat-xdk, a WASM build of X's Rust core) runs
// in a Node.js child process, interop/harness.mjs, that speaks JSON lines on
// stdin/stdout: one request {"id","op","args"} per line, answered by one
// response {"id","ok","result"|"error"} per line. Each named account is an
// independent SDK Chat instance inside that process.
//
// Start launches the harness; Peer.Call issues a raw request; Peer.Account
// returns a typed handle whose methods mirror the SDK's Chat methods. Byte
// strings cross the boundary as standard base64 ([]byte fields in Go).
//
// Requirements: `node` (18+) on PATH and the pinned SDK installed with
// `npm ci` in interop/ (the Makefile does this). Start reports
// ErrNodeNotFound or ErrSDKNotInstalled otherwise.
package peer
