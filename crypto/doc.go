// Package crypto implements the cryptographic primitives of X's end-to-end
// encrypted Chat (XChat), byte-compatible with the official Chat XDK.
//
// It covers:
//
//   - P-256 key pairs (identity for ECDH, signing for ECDSA), their
//     65-byte SEC1 and 91-byte SPKI encodings and the 64-byte backup blob;
//   - ECIES wrapping of 32-byte conversation keys (ephemeral P-256 ECDH,
//     ANSI X9.63 KDF with SHA-256, AES-128-GCM with a 16-byte IV);
//   - XSalsa20-Poly1305 secretbox message encryption laid out as
//     nonce(24) ‖ tag(16) ‖ ciphertext;
//   - ECDSA P-256/SHA-256 signatures in raw r‖s form (64 bytes);
//   - the registration key-binding signatures and public key fingerprint;
//   - builders and a parser for the comma-joined signed payload strings
//     (signature versions 2 to 7);
//   - the XDK's HKDF-SHA256 variant.
//
// Media streams (libsodium crypto_secretstream_xchacha20poly1305) live in
// the subpackage secretstream.
//
// The package performs no I/O. Every function that needs randomness takes an
// io.Reader; nil means crypto/rand.Reader. Secret-bearing types redact
// themselves in fmt output and offer Zero methods where Go allows wiping.
//
// Security note: XChat has no forward secrecy and no post-compromise
// security. Conversation keys are long-lived and wrapped to long-term
// identity keys; this package reproduces that design faithfully.
package crypto
