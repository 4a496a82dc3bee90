package bench

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// The floors are the primitive operations an engine operation cannot do
// without, timed alone on the same inputs: ECDSA P-256 sign and verify
// (crypto/ecdsa), secretbox seal and open, ECIES wrap and unwrap, the
// XChaCha20-Poly1305 of media uploads (golang.org/x/crypto) and libsodium's
// secretstream decryption of media downloads (crypto/secretstream: the
// primitive the media wire format fixes).

// floorTimes are the primitive costs, each on one core.
type floorTimes struct {
	sign1K, seal1K, open1K float64 // a 1 KiB text message
	verify, open           float64 // a history message (about 100 bytes of text)
	verifyOpenPar          float64 // verify + open on every core at once, per message
	unwrap, wrap, signKC   float64
}

// sendFloor is what Engine.Send must do: seal and sign the message, then
// open the server's copy before recording it. The copy's signature is not
// verified again when it carries exactly what was just signed
// (inbound.Own), so no verification is part of the floor.
func (f *floorTimes) sendFloor() float64 { return f.sign1K + f.seal1K + f.open1K }

// syncFloor is what a sync of n messages under one key change must do on
// procs cores.
func (f *floorTimes) syncFloor(n, procs int) float64 {
	per := f.verify + f.open
	if procs > 1 {
		per = f.verifyOpenPar
	}
	return float64(n)*per + f.verify + f.unwrap
}

// scaling is how much faster verify + open ran on every core at once than
// on one.
func (f *floorTimes) scaling() float64 {
	if f.verifyOpenPar == 0 {
		return 0
	}
	return (f.verify + f.open) / f.verifyOpenPar
}

// messageSample returns the encoded plaintext, the secretbox contents and
// the signed v7 payload of a text message.
func messageSample(key *crypto.ConversationKey, text string) (plain, contents, payload []byte, err error) {
	s := text
	plain, err = wire.EncodeMessageEntryHolder(&product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{MessageText: &s}}})
	if err != nil {
		return nil, nil, nil, err
	}
	if contents, err = crypto.Seal(nil, key, plain); err != nil {
		return nil, nil, nil, err
	}
	p, err := crypto.MessageCreatePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: "00000000-0000-4000-8000-000000000001", SenderID: "1001", ConversationID: "1001:1002"},
		"1795000000100", contents)
	if err != nil {
		return nil, nil, nil, err
	}
	payload, err = p.Bytes()
	return plain, contents, payload, err
}

func (m *measurer) floors(text string) (*floorTimes, error) {
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		return nil, err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, err
	}
	var f floorTimes
	if err := m.messageFloors(&f, kp, key, text); err != nil {
		return nil, err
	}
	wrapped, err := crypto.WrapConversationKey(nil, kp.Identity.PublicKey(), key)
	if err != nil {
		return nil, err
	}
	f.unwrap = m.op(1, func() error { _, err := crypto.UnwrapConversationKey(kp.Identity, wrapped); return err }).ns
	pub := kp.Identity.PublicKey()
	f.wrap = m.op(1, func() error { _, err := crypto.WrapConversationKey(nil, pub, key); return err }).ns
	kcPayload, err := crypto.KeyChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: "00000000-0000-4000-8000-000000000000", SenderID: "1001", ConversationID: "g1795000000000000123"},
		crypto.KeyChange{ConversationKeyVersion: "1795000000100", Key: key})
	if err != nil {
		return nil, err
	}
	kcBytes, err := kcPayload.Bytes()
	if err != nil {
		return nil, err
	}
	f.signKC = m.op(1, func() error { _, err := crypto.Sign(kp.Signing, kcBytes); return err }).ns
	if m.err != nil {
		return nil, m.err
	}
	return &f, nil
}

// messageFloors times sign, seal and open of a 1 KiB message and
// verify and open of a history message, on one core and (verify + open)
// on every core at once.
func (m *measurer) messageFloors(f *floorTimes, kp *crypto.KeyPair, key *crypto.ConversationKey, text string) error {
	pub := kp.Signing.PublicKey()
	plain, contents, payload, err := messageSample(key, text)
	if err != nil {
		return err
	}
	f.sign1K = m.op(1, func() error { _, err := crypto.Sign(kp.Signing, payload); return err }).ns
	f.seal1K = m.op(1, func() error { _, err := crypto.Seal(nil, key, plain); return err }).ns
	f.open1K = m.op(1, func() error { _, err := crypto.Open(key, contents); return err }).ns

	if _, contents, payload, err = messageSample(key, historyText(0)); err != nil {
		return err
	}
	sig, err := crypto.Sign(kp.Signing, payload)
	if err != nil {
		return err
	}
	f.verify = m.op(1, func() error { return crypto.Verify(pub, payload, sig) }).ns
	f.open = m.op(1, func() error { _, err := crypto.Open(key, contents); return err }).ns
	if cores := runtime.NumCPU(); cores > 1 {
		f.verifyOpenPar = m.opParallel(cores, func() error {
			if err := crypto.Verify(pub, payload, sig); err != nil {
				return err
			}
			_, err := crypto.Open(key, contents)
			return err
		}).ns
	}
	return nil
}

// streamFrame is the plaintext size of one secretstream frame in the XChat
// media framing.
const streamFrame = 1024

// streamFloorTimes are the AEAD floors for n bytes.
type streamFloorTimes struct {
	seal, open float64 // XChaCha20-Poly1305 over n bytes in 1 KiB frames
	oneShot    float64 // one XChaCha20-Poly1305 Seal over all n bytes
	// pull is the download rows' floor: libsodium's secretstream (the
	// primitive the XChat media format fixes, crypto/secretstream) pulling
	// every frame of an n-byte stream held in memory into a buffer made
	// once. A secretstream frame costs what an XChaCha20-Poly1305 frame
	// does plus one ChaCha20 block and 64 bytes more of Poly1305 input
	// (the block that carries the frame's tag), so open, the floor these
	// rows had before, is below what any download of this format can do;
	// open is still printed beside the rows.
	pull float64
	// received is open with what any download returning a fresh []byte
	// from a stream also does: each frame read from an io.Reader into a
	// frame buffer, the plaintext opened into a buffer made for the call.
	// It is shown beside the download row, not used as its floor.
	received float64
	// pullFresh is pull into a buffer made for each call, as a download
	// returning a fresh []byte must have one: the runtime zeroes a reused
	// span of that size, or the kernel faults fresh pages in on first
	// write. It is the honest reference of DownloadMedia (shown beside
	// its row); the floor stays pull.
	pullFresh float64
}

// streamFloors measures golang.org/x/crypto/chacha20poly1305 (XChaCha20)
// over n bytes cut into the 1 KiB frames the XChat stream format fixes,
// into preallocated buffers, and once over the whole buffer.
func (m *measurer) streamFloors(n int) (*streamFloorTimes, error) {
	key := randomBytes(chacha20poly1305.KeySize)
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
	f.received = m.op(1, func() error { return openReceived(aead, nonce, ct, n) }).ns
	sct, err := secretstream.Encrypt(nil, key, plain)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	pulled := make([]byte, 0, n+pullSlack)
	f.pull = m.op(1, func() error { _, err := pullStream(pulled[:0], key, sct); return err }).ns
	f.pullFresh = m.op(1, func() error { _, err := pullStream(make([]byte, 0, n+pullSlack), key, sct); return err }).ns
	if m.err != nil {
		return nil, m.err
	}
	return &f, nil
}

// pullSlack is the spare capacity secretstream's Pull works in beyond the
// plaintext (see secretstream.PullState.Pull), with room to spare.
const pullSlack = 128

// pullStream decrypts an XChat media stream held in memory (header, then
// frames of secretstream.EncryptedChunkSize bytes, the last FINAL) frame by
// frame with secretstream.PullState, appending the plaintext to dst: the
// decryption every download of the format must do, without reading,
// checking sizes or allocating (dst needs the plaintext's size plus
// pullSlack of capacity).
func pullStream(dst, key, ct []byte) ([]byte, error) {
	if len(ct) < secretstream.HeaderSize {
		return nil, secretstream.ErrTruncated
	}
	p, err := secretstream.NewPullState(key, ct[:secretstream.HeaderSize])
	if err != nil {
		return nil, err
	}
	defer p.Zero()
	var tag secretstream.Tag
	for body := ct[secretstream.HeaderSize:]; len(body) > 0; {
		k := min(len(body), secretstream.EncryptedChunkSize)
		if dst, tag, err = p.Pull(dst, body[:k], nil); err != nil {
			return nil, err
		}
		body = body[k:]
	}
	if tag != secretstream.TagFinal {
		return nil, secretstream.ErrTruncated
	}
	return dst, nil
}

// openReceived opens the 1 KiB frames of ct as they are read from an
// io.Reader into one frame buffer, into a result buffer made for the call
// (of n bytes of plaintext).
func openReceived(aead cipher.AEAD, nonce, ct []byte, n int) error {
	src, step := bytes.NewReader(ct), streamFrame+aead.Overhead()
	frame, dst := make([]byte, step), make([]byte, 0, n)
	for src.Len() > 0 {
		k, err := io.ReadFull(src, frame[:min(step, src.Len())])
		if err != nil {
			return err
		}
		if dst, err = aead.Open(dst, nonce, frame[:k], nil); err != nil {
			return err
		}
	}
	if len(dst) != n {
		return fmt.Errorf("bench: opened %d of %d bytes", len(dst), n)
	}
	return nil
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
