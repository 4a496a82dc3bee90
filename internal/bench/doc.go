// Package bench is the engine behind cmd/xchat-bench: it times the hot
// paths of xchat-go against their primitive floor and against the official
// Chat XDK, and prints one table row per operation.
//
// Operations, each timed with testing.Benchmark (best of three runs):
//
//   - send text 1 KiB: what the engine does before the network call
//     (session.Engine.sealMessage): encode, secretbox, Thrift, mint a message
//     id, sign the v7 payload, encode the MessageEventSignature, base64 both.
//     Floor: one ECDSA sign of the same payload plus one secretbox seal.
//   - decrypt+verify a page and a history through inbound.DecryptBatch
//     (a key change followed by N messages, the key coming from the batch),
//     on one core and on every core. Floor: N × (ECDSA verify + secretbox
//     open) plus the key change's verify and ECIES unwrap.
//   - prepare a key change for 2, 50 and 500 participants
//     (session.Engine.prepareKey). Floor: N × ECIES wrap plus one sign.
//   - secretstream encrypt and decrypt of 64 MiB. Floor: x/crypto
//     chacha20poly1305 (XChaCha20) over the same bytes in 1 KiB frames.
//   - peak RSS of a streamed history decrypt at two lengths, and an
//     end-to-end Sync of a conversation seeded into an in-process emulator,
//     each in a re-executed child process (see IsChild and ChildMain).
//   - replicas of one account (replicas.go): sync events/s and sends/s
//     with the keystore in bbolt (1 replica) and in one PostgreSQL database
//     (1 and 4 replicas, a throwaway cluster); the bbolt figure is the
//     floor, so ours/floor is the cost of the shared database.
//   - send-to-display latency on loopback, median and p99 over 200
//     messages sent every 20 ms: through the Activity stream
//     (session.Follower) and by polling every 3 s as `xchat watch --poll`
//     does (realtime.go). These rows are wall time.
//
// Rows run on one core report process CPU time per operation, so that the
// ratios stay meaningful when other work competes for the machine; the
// official SDK is timed the same way by interop/bench.mjs, in the same run,
// on the same inputs.
//
// Targets are reported, never asserted.
package bench
