// Package testvectors holds xchat-go's deterministic test vectors and the
// code that generates them.
//
// The vectors live in xchat.json next to this file. They are produced by
//
//	go run ./testvectors/cmd/genvectors -out testvectors/xchat.json
//
// (`make vectors`) from a fixed seed, so regenerating yields the committed
// file byte for byte; the package tests check that, and check every case
// against the implementation. See File and Case for the format.
//
// The package tests also replay the official Chat XDK vectors
// (vendored in testdata/reference, read through internal/testref) and the
// samples recorded from the live SDK (interop/testdata/sdk-samples.json)
// through the crypto and wire packages.
package testvectors
