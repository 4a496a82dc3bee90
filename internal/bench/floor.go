package bench

import (
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/wire"
)

// sample returns the encoded plaintext, the secretbox contents and the
// signed v7 payload of a message carrying text.
func (w *world) sample(text string) (plain, contents, payload []byte, err error) {
	plain, err = wire.EncodeMessageEntryHolder(textHolder(text))
	if err != nil {
		return nil, nil, nil, err
	}
	contents, err = crypto.Seal(nil, w.ckey, plain)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := crypto.MessageCreatePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: messageID(1), SenderID: aliceID, ConversationID: convID}, ckeyVersion, contents)
	if err != nil {
		return nil, nil, nil, err
	}
	payload, err = p.Bytes()
	return plain, contents, payload, err
}

// streamFrame is the plaintext size of one secretstream frame in the XChat
// media framing.
const streamFrame = 1024

// streamFloorTimes are the AEAD floors for n bytes.
type streamFloorTimes struct {
	seal, open float64 // XChaCha20-Poly1305 over n bytes in 1 KiB frames
	oneShot    float64 // one XChaCha20-Poly1305 Seal over all n bytes
}

// streamFloors measures golang.org/x/crypto/chacha20poly1305 (XChaCha20)
// over n bytes cut into the 1 KiB frames the XChat stream format fixes,
// into preallocated buffers, and once over the whole buffer.
func (m *measurer) streamFloors(key []byte, n int) (*streamFloorTimes, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	plain := randomBytes(n)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	frames := (n + streamFrame - 1) / streamFrame
	ct := make([]byte, 0, n+frames*aead.Overhead())
	for off := 0; off < n; off += streamFrame {
		ct = aead.Seal(ct, nonce, plain[off:min(off+streamFrame, n)], nil)
	}
	out := make([]byte, 0, cap(ct))
	var f streamFloorTimes
	f.seal = m.op(1, func() error {
		dst := out[:0]
		for off := 0; off < n; off += streamFrame {
			dst = aead.Seal(dst, nonce, plain[off:min(off+streamFrame, n)], nil)
		}
		return nil
	}).ns
	f.open = m.op(1, func() error {
		dst := out[:0]
		step := streamFrame + aead.Overhead()
		for off := 0; off < len(ct); off += step {
			var err error
			if dst, err = aead.Open(dst, nonce, ct[off:min(off+step, len(ct))], nil); err != nil {
				return err
			}
		}
		return nil
	}).ns
	f.oneShot = m.op(1, func() error { aead.Seal(out[:0], nonce, plain, nil); return nil }).ns
	if m.err != nil {
		return nil, m.err
	}
	return &f, nil
}
