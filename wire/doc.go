// Package wire encodes and decodes the XChat Thrift structures (generated into
// thriftgen/event, thriftgen/product and thriftgen/trees) with the Thrift binary
// protocol, and provides the base64 forms used on the REST surface.
//
// Encoding uses the stock TBinaryProtocol over an in-memory buffer. Map entries
// are then put in ascending key order so that the output is deterministic and
// matches the official Chat XDK, whose generated Rust code stores maps in
// BTreeMaps (see canonical.go).
//
// Decoding uses a bounded, allocation-conscious binary reader over the input
// slice instead of TBinaryProtocol, so that hostile input fails fast:
//
//   - every declared string, binary or container length is checked against the
//     bytes actually remaining before anything is allocated;
//   - lists, sets and maps hold at most MaxContainerElements elements each and
//     at most MaxTotalElements across one decode (the SDK's BoundedProtocol
//     limits, crates/core/src/protocol/safe_reader.rs);
//   - struct nesting is capped at MaxDepth, and skipping unknown fields is
//     capped at MaxSkipDepth levels (the Thrift default used by the SDK);
//   - input longer than MaxMessageSize is rejected.
//
// Acceptance policy. It follows the official SDK: the Rust code generated
// by Thrift 0.24 in xdevplatform/chat-xdk crates/core/src/thrift/*.rs, read
// through the BoundedProtocol over a Cursor, and the behaviour of the live
// SDK (@xdevplatform/chat-xdk 0.4.3 WASM, decryptEvent probed with crafted
// envelopes):
//
//   - Trailing bytes after the top-level struct are ignored by Unmarshal and
//     the Decode helpers: the SDK never checks the cursor position and the live
//     SDK decrypts envelopes with garbage appended. UnmarshalExact rejects them.
//   - Unknown struct fields are skipped; unknown enum values are kept.
//   - Unions: two different known variants, or one variant twice, are errors
//     (SDK: "bad data"). An optional field holding a union with no known
//     variant is cleared to nil: the live SDK reports an envelope whose detail
//     carries only an unknown variant as an "unknown" event rather than
//     failing. A top-level union, a list element or a map value with no known
//     variant is an error.
//   - Required fields (trees.Member, trees.PubKeyBytes, trees.TreeKeyData)
//     must be present.
//   - Strings must be valid UTF-8 (SDK: "bad data"); binary fields may hold any
//     bytes. Map keys are exempt, because the Go generator types binary map
//     keys as Go strings (so string-keyed maps, only
//     MessageContents.additional_fields, are not checked).
//
// Deliberate differences from the SDK:
//
//   - Stricter: a field id repeated inside one struct is rejected (the SDK
//     keeps the last value), a boolean byte other than 0 or 1 is rejected (the
//     SDK accepts it), and the total input size is capped.
//   - Looser: an empty union (no field at all) in an optional field is cleared
//     like an unknown-only one, where the SDK fails with "empty union"; the
//     decoded value cannot tell the two apart. A known field id arriving with
//     the wrong wire type is skipped as absent (Go generator behaviour), where
//     the SDK reads it with the declared type and yields garbage or an error.
package wire
