// Package secretstream implements libsodium's
// crypto_secretstream_xchacha20poly1305 and the XChat media framing built on
// it.
//
// The primitive (PushState, PullState) is wire-compatible with libsodium:
// a 24-byte header (16-byte HChaCha20 input ‖ 8-byte initial nonce), one
// authenticated frame per message of len(m)+17 bytes (encrypted tag byte ‖
// ciphertext ‖ 16-byte Poly1305 MAC), the tags MESSAGE, PUSH, REKEY and FINAL,
// explicit rekeying and the automatic rekey when the 32-bit counter wraps.
//
// Frames are ChaCha20 with a Poly1305 MAC laid out as libsodium lays it
// out, including libsodium's padding quirk after the ciphertext (mlen mod 16
// zero bytes rather than the RFC 8439 padding), so the RFC 8439 AEAD cannot
// be reused; the package composes golang.org/x/crypto/chacha20 and poly1305
// directly and is checked against known answers produced by libsodium.
//
// The XChat framing (Encrypt, Decrypt, Writer, Reader) splits plaintext into
// 1024-byte chunks (1041 bytes on the wire), tags the last chunk FINAL and
// emits only the header for empty input, as the official Chat XDK does. A
// non-empty stream that does not end with a FINAL frame is rejected with
// ErrTruncated, and any data after a FINAL frame with ErrDataAfterFinal.
//
// The media key is the 32-byte conversation key itself.
package secretstream
