// Package bench is the engine behind cmd/xchat-bench: it times what users
// run — the public engine, session.Engine, and its receive pipeline,
// internal/inbound — against the primitive floor and against the official
// Chat XDK, and prints one table row per operation.
//
// Every history is made by the engine: alice's Engine.Send seals and signs
// each message (against a server that captures the request) and the
// emulator appends them in bulk with emulator.SeedMessages, building,
// chaining and serving each event exactly as if it had been posted.
//
// Per-operation rows run the engine with a memory keystore against an
// in-process stub server (stub.go): no HTTP, no JSON, no server work, so
// the figures are the engine's own. Each is timed with testing.Benchmark,
// or with a fresh store made (untimed) before each call, best of three
// runs:
//
//   - send text 1 KiB: Engine.Send (seal, sign, outbox, post, check and
//     record the server's echo: it carries exactly the bytes and the
//     signature just made, see inbound.Own). Floor: sign + seal + open,
//     plus the stub's answer to the same request timed alone in the same
//     run (the row makes that round trip; the floor without it is in the
//     row's note).
//   - send text 1 KiB on bbolt: the same send with the account in a
//     sealed bbolt store (its two commits flushed to disk), reported
//     beside the same floor without a target.
//   - sync page of 100 and sync history 10k (on one core and on every
//     core): Engine.Sync of a conversation recorded from the emulator into
//     a fresh store. Floor: N × (verify + open) plus the key change's
//     verify and unwrap.
//   - decrypt pipeline, history 10k: inbound.DecryptBatch alone on the
//     same events, one core and every core (the scaling reference).
//   - rotate key, 2, 50 and 500 participants: Engine.Rotate of a
//     one-to-one conversation or of a group the account created, each
//     timed rotation in a fresh conversation keyed once (as a
//     conversation holds a few versions, not the thousands a loop would
//     pile up), by the engine that keyed it. Group rotation syncs the
//     roster and looks up every member's keys first; a key set listed
//     byte for byte as stored is not verified again, so the floor has no
//     verification. Floor: N × ECIES wrap plus one sign.
//   - send media and download media, 64 MiB: Engine.Send (Media) and
//     Engine.DownloadMedia. Floor of the send: x/crypto XChaCha20-Poly1305
//     over the same bytes in 1 KiB frames, into a buffer made once. Floor
//     of the download: libsodium's secretstream (crypto/secretstream, the
//     primitive the media format fixes) pulling the same stream's frames
//     from memory into a buffer made once; it costs one ChaCha20 block a
//     frame more than the XChaCha20-Poly1305 frames, the floor before,
//     which the row's note still gives. The note also times the floor's
//     pull into a buffer made per call, as a download returning a fresh
//     []byte must have one (the runtime zeroes 64 MiB, or the kernel
//     faults its pages in: the honest reference of this row), and those
//     XChaCha20 frames as a download into a fresh []byte runs them (each
//     frame read from an io.Reader, the plaintext opened into a buffer
//     made per call), for reference: neither is the floor.
//   - download media 64 MiB to a writer: Engine.DownloadMediaTo into
//     io.Discard (each frame written once it authenticated, one frame in
//     memory), against the same floor as the download row; the SDK has no
//     streaming form, so its column is '-'. Its note gives it as a ratio
//     of the fresh-buffer figure too.
//
// Child rows each run in a re-executed process (see IsChild and ChildMain)
// so that their peak RSS is their own, at 1k, 10k and (unless -short or
// XCHAT_BENCH_SHORT=1) 100k events:
//
//   - decrypt pipeline streamed: a history file through inbound.DecryptBatch.
//   - e2e sync: an account that never synced syncs the conversation from
//     the emulator (served by the parent over loopback HTTP) through
//     api.Client and Engine.Sync (streaming) into its bbolt keystore; then a
//     re-sync with no new events and a re-open (store and engine) + sync,
//     each as a fraction of the first sync.
//
// The send-to-display latency rows (realtime.go) run alice and bob on an
// in-process emulator over loopback: median and p99 over 200 messages sent
// every 20 ms, bob following the Activity stream (realtime.Follower) or
// polling every 3 s as `xchat watch --poll` does. These rows are wall time.
//
// The replica rows (replicas.go) sync and send with one account's keystore
// in bbolt (one replica) and in one PostgreSQL database (1 and 4 replicas,
// a throwaway cluster); the bbolt figure is the floor, so ours/floor is the
// cost of the shared database.
//
// Rows run on one core report process CPU time per operation, so that the
// ratios stay meaningful when other work competes for the machine; the
// official SDK is timed the same way by interop/bench.mjs, in the same run,
// on the same inputs (its rows prepare, where ours also post to the stub
// and store). Targets are reported, never asserted; the table ends with
// "N met, M missed".
//
// The Go benchmarks of the same operations carry the same names wherever
// they appear: BenchmarkSendText1KiB, BenchmarkSyncPage100,
// BenchmarkSyncHistory10k, BenchmarkRotate2, BenchmarkRotateGroup50,
// BenchmarkSendMedia1MiB, BenchmarkDownloadMedia1MiB and
// BenchmarkDownloadMediaTo1MiB are the rows above (here);
// BenchmarkDecryptPipeline10k is the bare pipeline on the same events;
// BenchmarkSyncBbolt1k and BenchmarkDecryptPipeline1k (no rows) compare
// the CPU time per event of a sync into a sealed bbolt store and of the
// bare pipeline in one run;
// internal/inbound's BenchmarkDecryptBatch100,
// BenchmarkDecryptHistory10k and BenchmarkDecryptSingle time the pipeline
// on its own fixtures; session's BenchmarkSendText1KiBLoopback (the send
// over HTTP to the emulator), BenchmarkSealMessage1KiB and
// BenchmarkPrepareKeyChange50 (unexported steps of a send and a rotation)
// and BenchmarkHistory10k (reading stored history) time the parts.
package bench
