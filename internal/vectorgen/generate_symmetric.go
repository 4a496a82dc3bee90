package vectorgen

import (
	"bytes"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/testvectors"
)

// Cases for the symmetric primitives: secretbox, secretstream and HKDF.

// Pattern returns n bytes byte[i] = (7*i + 3) & 0xff, the plaintext pattern
// of the SDK stream samples.
func Pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(7*i + 3)
	}
	return b
}

func (g *generator) secretbox() {
	ck, err := crypto.NewConversationKey(g.rng)
	if err != nil {
		g.fail(err)
		return
	}
	seal := func(name string, pt []byte, note string) []byte {
		box, err := crypto.Seal(g.rng, ck, pt)
		if err != nil {
			g.fail(err)
		}
		g.add(testvectors.Case{Name: name, Kind: testvectors.KindSecretbox, Op: "open", Expect: testvectors.ExpectSuccess, Note: note,
			Inputs:  map[string]any{"key_hex": hx(ck[:]), "box_hex": hx(box)},
			Outputs: map[string]any{"plaintext_hex": hx(pt)}})
		return box
	}
	box := seal("secretbox/text", []byte("hello bob"), "layout nonce(24) || tag(16) || ciphertext")
	seal("secretbox/empty", nil, "40 bytes: the shortest valid box")
	seal("secretbox/1000-bytes", g.rng.Bytes(1000), "")
	other, _ := crypto.NewConversationKey(g.rng)
	fail := func(name string, key *crypto.ConversationKey, b []byte, note string) {
		g.add(testvectors.Case{Name: name, Kind: testvectors.KindSecretbox, Op: "open", Expect: testvectors.ExpectDecryptionFailed, Note: note,
			Inputs: map[string]any{"key_hex": hx(key[:]), "box_hex": hx(b)}})
	}
	fail("secretbox/nonce-flip", ck, flip(box, 0), "")
	fail("secretbox/tag-flip", ck, flip(box, 24), "")
	fail("secretbox/ciphertext-flip", ck, flip(box, -1), "")
	fail("secretbox/wrong-key", other, box, "")
	fail("secretbox/short-39", ck, box[:39], "one byte below nonce + tag")
	fail("secretbox/truncated", ck, box[:len(box)-1], "")
	fail("secretbox/trailing-byte", ck, append(bytes.Clone(box), 0), "")
}
func (g *generator) secretstream() {
	key := g.rng.Bytes(secretstream.KeySize)
	enc := func(pt []byte) []byte {
		ct, err := secretstream.Encrypt(g.rng, key, pt)
		if err != nil {
			g.fail(err)
		}
		return ct
	}
	add := func(name string, ct []byte, expect string, pt []byte, note string) {
		c := testvectors.Case{Name: name, Kind: testvectors.KindSecretstream, Op: "decrypt", Expect: expect, Note: note,
			Inputs: map[string]any{"key_hex": hx(key), "ciphertext_hex": hx(ct)}}
		if expect == testvectors.ExpectSuccess {
			c.Outputs = map[string]any{"plaintext_hex": hx(pt)}
		}
		g.add(c)
	}
	streams := map[int][]byte{}
	for _, n := range []int{0, 1, 1023, 1024, 1025, 2500} {
		pt := Pattern(n)
		ct := enc(pt)
		streams[n] = ct
		note := ""
		switch n {
		case 0:
			note = "empty plaintext: the 24-byte header alone"
		case 1024:
			note = "one full chunk, tagged FINAL (no empty final chunk): 24 + 1041 bytes"
		case 2500:
			note = "chunks of 1024, 1024 and 452 bytes, the last tagged FINAL"
		}
		add("secretstream/"+strconv.Itoa(n)+"-bytes", ct, testvectors.ExpectSuccess, pt, note)
	}
	s2500 := streams[2500]
	add("secretstream/truncated-drop-final", s2500[:24+2*1041], testvectors.ExpectTruncatedStream, nil,
		"the FINAL chunk is dropped: the stream ends on a MESSAGE chunk")
	add("secretstream/truncated-to-header", s2500[:24], testvectors.ExpectSuccess, nil,
		"KNOWN WEAKNESS shared with the XDK (SDK-FACTS §12): a non-empty stream cut down to its header is indistinguishable from an empty stream and decrypts to empty; callers must check the expected size out of band")
	add("secretstream/truncated-mid-chunk", s2500[:24+1041+100], testvectors.ExpectDecryptionFailed, nil,
		"a partial last frame fails authentication")
	add("secretstream/short-header", s2500[:23], testvectors.ExpectTruncatedStream, nil, "")
	add("secretstream/empty-input", nil, testvectors.ExpectTruncatedStream, nil, "not even a header")
	add("secretstream/chunk-flip", flip(s2500, 24+1041+5), testvectors.ExpectDecryptionFailed, nil, "")
	add("secretstream/header-flip", flip(s2500, 3), testvectors.ExpectDecryptionFailed, nil, "")
	add("secretstream/final-tag-flip", flip(streams[1], -1), testvectors.ExpectDecryptionFailed, nil, "")
	add("secretstream/swapped-chunks", append(append(bytes.Clone(s2500[:24]), s2500[24+1041:24+2*1041]...), append(bytes.Clone(s2500[24:24+1041]), s2500[24+2*1041:]...)...),
		testvectors.ExpectDecryptionFailed, nil, "chunks are bound to their position")

	// Data after FINAL: a full-size FINAL frame followed by one more frame.
	s1024 := streams[1024]
	p, _, err := secretstream.NewPushState(bytes.NewReader(s1024[:24]), key)
	if err != nil {
		g.fail(err)
		return
	}
	var extra []byte
	if _, err := p.Push(nil, Pattern(1024), nil, secretstream.TagFinal); err != nil {
		g.fail(err)
	}
	if extra, err = p.Push(nil, []byte{1}, nil, secretstream.TagMessage); err != nil {
		g.fail(err)
	}
	add("secretstream/data-after-final", append(bytes.Clone(s1024), extra...), testvectors.ExpectDataAfterFinal, nil,
		"a validly encrypted frame follows the FINAL frame (the XDK reports a pull failure)")
	add("secretstream/trailing-byte", append(bytes.Clone(streams[1]), 0), testvectors.ExpectDecryptionFailed, nil,
		"one stray byte after a short FINAL frame makes that frame fail authentication")

	g.add(testvectors.Case{Name: "secretstream/key-31-bytes", Kind: testvectors.KindSecretstream, Op: "decrypt", Expect: testvectors.ExpectInvalidKey,
		Inputs: map[string]any{"key_hex": hx(key[:31]), "ciphertext_hex": hx(streams[1])}})
}

func (g *generator) hkdf() {
	secret := g.rng.Bytes(32)
	add := func(name, salt string, n int, note string) {
		expect := testvectors.ExpectSuccess
		if n < 0 || n > 8160 {
			expect = testvectors.ExpectInvalidLength
		}
		c := testvectors.Case{Name: name, Kind: testvectors.KindHKDF, Op: "derive", Expect: expect, Note: note,
			Inputs: map[string]any{"secret_hex": hx(secret), "salt_utf8": salt, "length": strconv.Itoa(n)}}
		out, err := crypto.HKDF(secret, salt, n)
		if g.mismatch(name, err, expect, testvectors.ExpectInvalidLength) {
			return
		}
		if err == nil {
			c.Outputs = map[string]any{"okm_hex": hx(out)}
		}
		g.add(c)
	}
	add("hkdf/length-0", "", 0, "empty output, as in the XDK")
	add("hkdf/length-32", "", 32, "empty salt = 32 zero bytes; no info")
	add("hkdf/length-32-salt", "xchat salt", 32, "")
	add("hkdf/length-42-salt", "xchat salt", 42, "")
	add("hkdf/length-8160", "xchat salt", crypto.HKDFMaxLength, "255 * 32, the largest allowed")
	add("hkdf/length-8161", "xchat salt", crypto.HKDFMaxLength+1, "")
	add("hkdf/length-negative", "", -1, "")
}
