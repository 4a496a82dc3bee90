package secretstream

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/chacha20"

	"github.com/xchat-go/xchat/internal/testutil"
)

// TestAEADPathMatchesGeneric checks Push and Pull, which take the AEAD fast
// path for frames whose length is a multiple of 8, against the generic
// ChaCha20 + Poly1305 path, which
// the libsodium KATs pin down for every length. It covers additional data,
// every tag, explicit rekeys and the automatic rekey on counter wrap, and
// both directions: frames from Push must equal pushGeneric's byte for byte,
// and Pull must accept and decrypt them like pullGeneric.
func TestAEADPathMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for c := range 24 {
		key := make([]byte, KeySize)
		header := make([]byte, HeaderSize)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		for i := range header {
			header[i] = byte(rng.Uint32())
		}
		fast, _, err := NewPushState(&fixedReader{b: bytes.Clone(header)}, key)
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := testutil.Must2(NewPushState(&fixedReader{b: bytes.Clone(header)}, key))(t)
		pullFast := testutil.Must(NewPullState(key, header))(t)
		pullSlow := testutil.Must(NewPullState(key, header))(t)
		if c%3 == 0 { // start just before the 32-bit counter wraps
			ctr := uint32(0xffffffff - rng.IntN(3))
			for _, st := range []*state{&fast.s, &slow.s, &pullFast.s, &pullSlow.s} {
				binary.LittleEndian.PutUint32(st.nonce[:counterSize], ctr)
			}
		}
		for step := range 12 {
			mlen := rng.IntN(1200)
			switch step % 4 {
			case 0, 1:
				mlen &^= 7 // AEAD path
			case 3:
				mlen = ChunkSize
			}
			msg := make([]byte, mlen)
			for i := range msg {
				msg[i] = byte(rng.Uint32())
			}
			ad := make([]byte, rng.IntN(3)*rng.IntN(40))
			for i := range ad {
				ad[i] = byte(rng.Uint32())
			}
			tag := Tag(rng.IntN(4))
			if rng.IntN(5) == 0 {
				fast.Rekey()
				slow.Rekey()
				pullFast.Rekey()
				pullSlow.Rekey()
			}
			// Push and Pull work differently when dst already holds at least
			// one block (see their comments): cover both sides of that edge.
			prefix := make([]byte, []int{0, 6, 62, 63, 64, 65, 200}[rng.IntN(7)])
			for i := range prefix {
				prefix[i] = byte(rng.Uint32())
			}
			got, err := fast.Push(bytes.Clone(prefix), msg, ad, tag)
			if err != nil {
				t.Fatal(err)
			}
			want, err := slow.pushGeneric(bytes.Clone(prefix), msg, ad, tag)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("case %d step %d (mlen %d, ad %d): AEAD frame differs from generic", c, step, mlen, len(ad))
			}
			frame := want[len(prefix):]
			if len(ad) > 0 {
				if _, _, err := pullFast.Pull(nil, frame, ad[1:]); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("case %d step %d: pull with wrong AD: %v", c, step, err)
				}
			}
			bad := bytes.Clone(frame)
			bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
			kept := bytes.Clone(prefix)
			if _, _, err := pullFast.Pull(kept, bad, ad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("case %d step %d: pull of a tampered frame: %v", c, step, err)
			}
			if !bytes.Equal(kept, prefix) {
				t.Fatalf("case %d step %d: failed pull changed dst", c, step)
			}
			pt, gotTag, err := pullFast.Pull(bytes.Clone(prefix), frame, ad)
			if err != nil || gotTag != tag || !bytes.Equal(pt, append(bytes.Clone(prefix), msg...)) {
				t.Fatalf("case %d step %d: AEAD pull: tag %d, err %v", c, step, gotTag, err)
			}
			pt2, tag2, err := pullSlow.pullGeneric(nil, frame, ad)
			if err != nil || tag2 != tag || !bytes.Equal(pt2, msg) {
				t.Fatalf("case %d step %d: generic pull: tag %d, err %v", c, step, tag2, err)
			}
		}
		if fast.s.k != slow.s.k || fast.s.nonce != slow.s.nonce || pullFast.s.k != pullSlow.s.k || pullFast.s.nonce != pullSlow.s.nonce {
			t.Fatalf("case %d: states diverged", c)
		}
	}
}

// TestPullWipesScratch checks that the bytes Pull uses beyond its result
// are zero afterwards.
func TestPullWipesScratch(t *testing.T) {
	key := testKey()
	push, header := testutil.Must2(NewPushState(nil, key))(t)
	pull := testutil.Must(NewPullState(key, header[:]))(t)
	msg := bytes.Repeat([]byte{0xa5}, 256)
	frame, err := push.Push(nil, msg, nil, TagMessage)
	if err != nil {
		t.Fatal(err)
	}
	pt, _, err := pull.Pull(make([]byte, 0, 1024), frame, nil)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("pull: %v", err)
	}
	if tail := pt[len(pt) : len(pt)+pullSlack]; !bytes.Equal(tail, make([]byte, pullSlack)) {
		t.Fatalf("scratch beyond the result not wiped: %x", tail)
	}
}

// TestKeystreamBlock1 checks the ChaCha20 block the AEAD path computes for
// each frame's tag block against golang.org/x/crypto/chacha20, for the RFC
// 8439 section 2.3.2 key and nonce (whose block 1 the RFC gives) and random
// states.
func TestKeystreamBlock1(t *testing.T) {
	var s state
	for i := range s.k {
		s.k[i] = byte(i)
	}
	copy(s.nonce[:], []byte{0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0})
	var got [blockSize]byte
	s.keystreamBlock1(&got)
	// RFC 8439 2.3.2, serialized block (counter 1).
	want := "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
		"d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
	if hex.EncodeToString(got[:]) != want {
		t.Fatalf("RFC 8439 block: %x", got)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		for i := range s.k {
			s.k[i] = byte(rng.Uint32())
		}
		for i := range s.nonce {
			s.nonce[i] = byte(rng.Uint32())
		}
		c, err := chacha20.NewUnauthenticatedCipher(s.k[:], s.nonce[:])
		if err != nil {
			t.Fatal(err)
		}
		c.SetCounter(1)
		var ref [blockSize]byte
		c.XORKeyStream(ref[:], ref[:])
		s.keystreamBlock1(&got)
		if got != ref {
			t.Fatalf("key %x nonce %x: %x, want %x", s.k, s.nonce, got, ref)
		}
	}
}
