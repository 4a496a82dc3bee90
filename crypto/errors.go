package crypto

import "errors"

// Sentinel errors. Functions wrap them with %w so callers can use errors.Is.
var (
	// ErrInvalidPrivateKey reports a private scalar that is not 32 bytes or
	// not in [1, n-1].
	ErrInvalidPrivateKey = errors.New("crypto: invalid private key")
	// ErrInvalidPublicKey reports a public key that is not a valid P-256
	// point in uncompressed SEC1 or SPKI DER form.
	ErrInvalidPublicKey = errors.New("crypto: invalid public key")
	// ErrInvalidBackup reports a malformed key backup blob.
	ErrInvalidBackup = errors.New("crypto: invalid key backup")
	// ErrInvalidSignature reports a signature that is malformed or does not
	// verify.
	ErrInvalidSignature = errors.New("crypto: invalid signature")
	// ErrDecrypt reports a ciphertext that is too short or fails
	// authentication. It deliberately carries no detail.
	ErrDecrypt = errors.New("crypto: decryption failed")
	// ErrInvalidConversationKey reports an unwrapped conversation key that is
	// not exactly 32 bytes.
	ErrInvalidConversationKey = errors.New("crypto: invalid conversation key")
	// ErrInvalidLength reports an out-of-range length argument.
	ErrInvalidLength = errors.New("crypto: invalid length")
	// ErrInvalidPayload reports a signed payload string that cannot be built
	// or parsed (unknown kind, wrong component count, comma in a component).
	ErrInvalidPayload = errors.New("crypto: invalid signed payload")
	// ErrUnsupportedSignatureVersion reports a signature version outside
	// [MinSignatureVersion, SignatureVersion] or not in canonical decimal.
	ErrUnsupportedSignatureVersion = errors.New("crypto: unsupported signature version")
	// ErrInvalidBase64 reports text that is not standard-alphabet base64 in
	// the forms the XDK accepts.
	ErrInvalidBase64 = errors.New("crypto: invalid base64")
)
