// Package interop is the live-peer interoperability suite between this
// module's engine (package session) and X's official Chat XDK
// (npm @xdevplatform/chat-xdk, pinned to 0.4.3).
//
// The suite (go test ./interop) builds and starts cmd/xchatd, starts the
// Node harness (harness.mjs) once, and runs every scenario in both
// directions: our engine producing and the official SDK consuming, and the
// other way round. The SDK side is a real app built on the SDK (app.mjs):
// it talks HTTP to xchatd, posts exactly what the SDK prepares and feeds
// what the server returns to decryptEvents. At the end it prints a matrix and
// a summary line:
//
//	interop: 30 scenarios x 2 directions: 60 passed, 0 failed
//
// Requirements: Go, Node.js 18+ and `npm ci` in this directory. A missing
// SDK fails the suite; a missing node fails it too unless
// XCHAT_INTEROP_OPTIONAL=1, in which case it is skipped.
//
// The package has no exported API; subpackage peer is the Go client of the
// harness.
package interop
