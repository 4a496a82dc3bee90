// Package vectorgen generates testvectors/xchat.json, xchat-go's
// deterministic test vectors, from the fixed seed testvectors.Seed: every
// input, key and nonce comes from one DRBG stream (package drbg), so
// Generate returns the same cases byte for byte on every run.
//
// It is run by `make vectors` (go run ./testvectors/cmd/genvectors) and by
// the testvectors tests, which check that regenerating yields the committed
// file. The format of the file (File, Case, the Kind and Expect constants)
// is public in package testvectors; how it is produced is not.
package vectorgen
