package secretstream

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/xchat-go/xchat/internal/testutil"
)

type katFile struct {
	Source  string `json:"source"`
	Framing []struct {
		Name      string `json:"name"`
		Key       string `json:"key"`
		Plaintext string `json:"plaintext"`
		Stream    string `json:"stream"`
	} `json:"framing"`
	Frames []struct {
		Key            string `json:"key"`
		Header         string `json:"header"`
		InitialCounter uint32 `json:"initial_counter"`
		Steps          []struct {
			RekeyBefore bool   `json:"rekey_before"`
			Tag         Tag    `json:"tag"`
			Msg         string `json:"msg"`
			AD          string `json:"ad"`
			Frame       string `json:"frame"`
		} `json:"steps"`
	} `json:"frames"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadKAT(t testing.TB) *katFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/libsodium_kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var k katFile
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Framing) == 0 || len(k.Frames) == 0 {
		t.Fatal("empty KAT file")
	}
	return &k
}

// fixedReader returns the given bytes, then fails.
type fixedReader struct{ b []byte }

func (f *fixedReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, errors.New("fixedReader exhausted")
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// TestLibsodiumFraming checks that Encrypt with libsodium's header reproduces
// libsodium's stream byte for byte and that Decrypt, Reader recover it.
func TestLibsodiumFraming(t *testing.T) {
	k := loadKAT(t)
	for _, c := range k.Framing {
		t.Run(c.Name, func(t *testing.T) {
			key, pt, stream := unhex(t, c.Key), unhex(t, c.Plaintext), unhex(t, c.Stream)
			got, err := Encrypt(&fixedReader{b: bytes.Clone(stream[:HeaderSize])}, key, pt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, stream) {
				t.Fatalf("Encrypt differs from libsodium")
			}
			if int64(len(stream)) != EncryptedSize(int64(len(pt))) {
				t.Fatalf("EncryptedSize(%d) = %d, libsodium stream is %d", len(pt), EncryptedSize(int64(len(pt))), len(stream))
			}
			dec, err := Decrypt(key, stream)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Fatalf("Decrypt: %v", err)
			}
			r, err := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), key)
			if err != nil {
				t.Fatal(err)
			}
			dec, err = io.ReadAll(r)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Fatalf("Reader: %v", err)
			}
			var buf bytes.Buffer
			w, err := NewWriter(&buf, key, &fixedReader{b: bytes.Clone(stream[:HeaderSize])})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(pt); i += 7 {
				if _, err := w.Write(pt[i:min(i+7, len(pt))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), stream) {
				t.Fatalf("Writer differs from libsodium")
			}
		})
	}
}

// TestLibsodiumFrames checks the primitive: tags, additional data, explicit
// rekey and the automatic rekey on counter wrap-around.
func TestLibsodiumFrames(t *testing.T) {
	k := loadKAT(t)
	for i, c := range k.Frames {
		key, header := unhex(t, c.Key), unhex(t, c.Header)
		push, hdr, err := NewPushState(&fixedReader{b: bytes.Clone(header)}, key)
		if err != nil || !bytes.Equal(hdr[:], header) {
			t.Fatalf("case %d: NewPushState: %v", i, err)
		}
		pull, err := NewPullState(key, header)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []*state{&push.s, &pull.s} {
			st.nonce[0], st.nonce[1], st.nonce[2], st.nonce[3] = byte(c.InitialCounter), byte(c.InitialCounter>>8), byte(c.InitialCounter>>16), byte(c.InitialCounter>>24)
		}
		for j, s := range c.Steps {
			if s.RekeyBefore {
				push.Rekey()
				pull.Rekey()
			}
			msg, ad, want := unhex(t, s.Msg), unhex(t, s.AD), unhex(t, s.Frame)
			got, err := push.Push(nil, msg, ad, s.Tag)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("case %d step %d: frame differs from libsodium", i, j)
			}
			if len(ad) > 0 {
				if _, _, err := pull.Pull(nil, want, nil); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("case %d step %d: pull without AD: %v", i, j, err)
				}
			}
			pt, tag, err := pull.Pull(nil, want, ad)
			if err != nil || tag != s.Tag || !bytes.Equal(pt, msg) {
				t.Fatalf("case %d step %d: pull: tag %d err %v", i, j, tag, err)
			}
		}
	}
}

func testKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(i * 3)
	}
	return k
}

func TestRejections(t *testing.T) {
	key := testKey()
	pt := bytes.Repeat([]byte("xchat media "), 300) // 3600 bytes: 4 frames
	ct, err := Encrypt(nil, key, pt)
	if err != nil {
		t.Fatal(err)
	}
	hdrOnly, err := Encrypt(nil, key, nil)
	if err != nil || len(hdrOnly) != HeaderSize {
		t.Fatalf("empty stream: %d bytes, %v", len(hdrOnly), err)
	}
	if got, err := Decrypt(key, hdrOnly); err != nil || len(got) != 0 {
		t.Fatalf("header-only stream: %v", err)
	}
	// A second stream encrypted under the same key, to splice frames.
	ct2 := testutil.Must(Encrypt(nil, key, pt))(t)
	full := testutil.Must(Encrypt(nil, key, pt[:3*ChunkSize]))(t) // ends on a frame boundary
	flip := bytes.Clone(ct)
	flip[HeaderSize+5] ^= 1
	wrongKey := bytes.Clone(key)
	wrongKey[0] ^= 1
	cases := []struct {
		name string
		key  []byte
		ct   []byte
		want error
	}{
		{"empty input", key, nil, ErrTruncated},
		{"short header", key, ct[:HeaderSize-1], ErrTruncated},
		{"truncated at frame boundary", key, ct[:HeaderSize+EncryptedChunkSize], ErrTruncated},
		{"truncated mid frame", key, ct[:HeaderSize+EncryptedChunkSize+100], ErrDecrypt},
		{"last frame dropped", key, ct[:len(ct)-(len(pt)%ChunkSize+ABytes)], ErrTruncated},
		{"data after final", key, append(bytes.Clone(full), 0), ErrDataAfterFinal},
		{"trailing bytes merge into last frame", key, append(bytes.Clone(ct), 0), ErrDecrypt},
		{"bit flip", key, flip, ErrDecrypt},
		{"wrong key", wrongKey, ct, ErrDecrypt},
		{"spliced frame", key, append(bytes.Clone(ct[:HeaderSize]), ct2[HeaderSize:]...), ErrDecrypt},
		{"reordered frames", key, append(append(bytes.Clone(ct[:HeaderSize]), ct[HeaderSize+EncryptedChunkSize:HeaderSize+2*EncryptedChunkSize]...), ct[HeaderSize:HeaderSize+EncryptedChunkSize]...), ErrDecrypt},
		{"tiny frame", key, append(bytes.Clone(ct[:HeaderSize]), 1, 2, 3), ErrDecrypt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Decrypt(c.key, c.ct); !errors.Is(err, c.want) {
				t.Errorf("Decrypt: got %v, want %v", err, c.want)
			}
			r, err := NewReader(bytes.NewReader(c.ct), c.key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(r); !errors.Is(err, c.want) {
				t.Errorf("Reader: got %v, want %v", err, c.want)
			}
			r = testutil.Must(NewReader(iotest.HalfReader(bytes.NewReader(c.ct)), c.key))(t)
			if got, err := r.ReadAll(); !errors.Is(err, c.want) || got != nil {
				t.Errorf("ReadAll: got %d bytes, %v, want %v", len(got), err, c.want)
			}
		})
	}
}

// TestFinalInMiddle builds a stream whose FINAL frame is followed by more
// frames, which both decoders must refuse.
func TestFinalInMiddle(t *testing.T) {
	key := testKey()
	p, hdr, err := NewPushState(nil, key)
	if err != nil {
		t.Fatal(err)
	}
	out := hdr[:]
	out = testutil.Must(p.Push(out, make([]byte, ChunkSize), nil, TagFinal))(t)
	out = testutil.Must(p.Push(out, []byte("more"), nil, TagFinal))(t)
	if _, err := Decrypt(key, out); !errors.Is(err, ErrDataAfterFinal) {
		t.Fatalf("Decrypt: %v", err)
	}
	r := testutil.Must(NewReader(bytes.NewReader(out), key))(t)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrDataAfterFinal) {
		t.Fatalf("Reader: %v", err)
	}
}

// TestRekeyTagMidStream checks that non-final REKEY and PUSH frames, which
// libsodium allows, are accepted by Decrypt and Reader.
func TestRekeyTagMidStream(t *testing.T) {
	key := testKey()
	p, hdr := testutil.Must2(NewPushState(nil, key))(t)
	out := hdr[:]
	a, b, c := bytes.Repeat([]byte{1}, ChunkSize), bytes.Repeat([]byte{2}, ChunkSize), []byte{3}
	out = testutil.Must(p.Push(out, a, nil, TagRekey))(t)
	out = testutil.Must(p.Push(out, b, nil, TagPush))(t)
	out = testutil.Must(p.Push(out, c, nil, TagFinal))(t)
	want := append(append(bytes.Clone(a), b...), c...)
	got, err := Decrypt(key, out)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Decrypt: %v", err)
	}
	for _, hint := range []int{0, len(want)} {
		r := testutil.Must(NewReader(bytes.NewReader(out), key))(t)
		if got, err := r.ReadAllHint(hint); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadAllHint(%d): %v", hint, err)
		}
	}
}

func TestRoundTripSizes(t *testing.T) {
	key := testKey()
	for _, n := range []int{0, 1, 16, 1023, 1024, 1025, 2047, 2048, 2049, 10000} {
		pt := make([]byte, n)
		for i := range pt {
			pt[i] = byte(i * 7)
		}
		ct, err := Encrypt(nil, key, pt)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(ct)) != EncryptedSize(int64(n)) {
			t.Fatalf("n=%d: len %d, EncryptedSize %d", n, len(ct), EncryptedSize(int64(n)))
		}
		got, err := Decrypt(key, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: %v", n, err)
		}
		r := testutil.Must(NewReader(iotest.HalfReader(bytes.NewReader(ct)), key))(t)
		got, err = io.ReadAll(r)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d reader: %v", n, err)
		}
		r = testutil.Must(NewReader(iotest.HalfReader(bytes.NewReader(ct)), key))(t)
		got, err = r.ReadAll()
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d ReadAll: %v", n, err)
		}
	}
}

// TestReadAllBuffer: ReadAll returns every length whole in one buffer of
// less than twice its size and Pull's working space (a plaintext that fills the buffer exactly does
// not double it for the end of the stream), whatever the reads' sizes.
func TestReadAllBuffer(t *testing.T) {
	key := testKey()
	for _, size := range []int{0, 1, 511, 64 << 10, 64<<10 + 1, 128 << 10, 300_000, 1 << 20} {
		pt := make([]byte, size)
		for i := range pt {
			pt[i] = byte(i*7 + 3)
		}
		ct := testutil.Must(Encrypt(nil, key, pt))(t)
		for _, rd := range []io.Reader{bytes.NewReader(ct), iotest.HalfReader(bytes.NewReader(ct)), iotest.OneByteReader(bytes.NewReader(ct))} {
			r := testutil.Must(NewReader(rd, key))(t)
			got, err := r.ReadAll()
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("size %d: %d bytes, %v", size, len(got), err)
			}
			if size >= 64<<10 && cap(got) >= 2*(size+pullSlack) {
				t.Fatalf("size %d: buffer of %d", size, cap(got))
			}
		}
	}
	// After Read: the rest, starting with what Read had not returned.
	pt := bytes.Repeat([]byte("0123456789"), 500)
	r := testutil.Must(NewReader(bytes.NewReader(testutil.Must(Encrypt(nil, key, pt))(t)), key))(t)
	head := make([]byte, 100)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if rest, err := r.ReadAll(); err != nil || !bytes.Equal(append(head, rest...), pt) {
		t.Fatalf("ReadAll after Read: %d bytes, %v", len(rest), err)
	}
	boom := errors.New("boom")
	ct := testutil.Must(Encrypt(nil, key, make([]byte, 70_000)))(t)
	r = testutil.Must(NewReader(io.MultiReader(bytes.NewReader(ct[:40_000]), iotest.ErrReader(boom)), key))(t)
	if got, err := r.ReadAll(); !errors.Is(err, boom) || got != nil {
		t.Fatalf("failing stream: %d bytes, %v", len(got), err)
	}
}

func TestBadKey(t *testing.T) {
	if _, err := Encrypt(nil, make([]byte, 31), []byte("x")); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := Decrypt(make([]byte, 33), make([]byte, 40)); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := NewReader(nil, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
}

func TestEncryptedSize(t *testing.T) {
	for n, want := range map[int64]int64{-1: -1, 0: 24, 1: 42, 1024: 1065, 1025: 24 + 1025 + 34} {
		if got := EncryptedSize(n); got != want {
			t.Errorf("EncryptedSize(%d) = %d, want %d", n, got, want)
		}
	}
	if EncryptedSize(1<<62) != -1+1<<62+HeaderSize+((1<<62-1)/ChunkSize+1)*ABytes+1 && EncryptedSize(9223372036854775807) != -1 {
		t.Error("overflow not detected")
	}
}

func TestPlaintextSizeInvertsEncryptedSize(t *testing.T) {
	for n := int64(0); n < 5*ChunkSize; n++ {
		if got := PlaintextSize(EncryptedSize(n)); got != n {
			t.Fatalf("PlaintextSize(EncryptedSize(%d)) = %d", n, got)
		}
	}
	for _, n := range []int64{-1, 0, HeaderSize - 1, HeaderSize + 1, HeaderSize + ABytes, HeaderSize + EncryptedChunkSize + ABytes} {
		if got := PlaintextSize(n); got != -1 {
			t.Errorf("PlaintextSize(%d) = %d, want -1 (no plaintext encrypts to it)", n, got)
		}
	}
}

func TestWriterCloseTwice(t *testing.T) {
	var buf bytes.Buffer
	w := testutil.Must(NewWriter(&buf, testKey(), nil))(t)
	_, _ = w.Write([]byte("hi"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil || buf.Len() != n {
		t.Fatalf("second Close: %v, wrote %d", err, buf.Len()-n)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	key := testKey()
	for _, n := range []int{0, 1, 1024, 1500} {
		ct := testutil.Must(Encrypt(nil, key, make([]byte, n)))(f)
		f.Add(ct)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, err := Decrypt(key, ct)
		r := testutil.Must(NewReader(bytes.NewReader(ct), key))(t)
		pt2, err2 := io.ReadAll(r)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Decrypt err %v, Reader err %v", err, err2)
		}
		if err == nil && !bytes.Equal(pt, pt2) {
			t.Fatal("Decrypt and Reader disagree")
		}
		if err == nil && len(pt) > len(ct) {
			t.Fatal("plaintext longer than ciphertext")
		}
	})
}

// FuzzReadAllHint checks ReadAllHint, which decrypts frames in place in its
// result, against Decrypt for any stream and announced size, read in pieces
// of any size.
func FuzzReadAllHint(f *testing.F) {
	key := testKey()
	for _, n := range []int{0, 1, 1024, 1500, 2048} {
		ct := testutil.Must(Encrypt(nil, key, make([]byte, n)))(f)
		f.Add(ct, uint16(n), uint8(0))
		f.Add(ct, uint16(0), uint8(7))
	}
	f.Add([]byte{}, uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, ct []byte, hint uint16, piece uint8) {
		pt, err := Decrypt(key, ct)
		var rd io.Reader = bytes.NewReader(ct)
		if piece > 0 {
			rd = &pieceReader{r: rd, n: int(piece)}
		}
		r := testutil.Must(NewReader(rd, key))(t)
		pt2, err2 := r.ReadAllHint(int(hint))
		if (err == nil) != (err2 == nil) || (err2 != nil && pt2 != nil) {
			t.Fatalf("Decrypt err %v, ReadAllHint err %v (%d bytes)", err, err2, len(pt2))
		}
		if err == nil && !bytes.Equal(pt, pt2) {
			t.Fatal("Decrypt and ReadAllHint disagree")
		}
	})
}

// pieceReader returns at most n bytes per Read.
type pieceReader struct {
	r io.Reader
	n int
}

func (p *pieceReader) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.n)]) }

func BenchmarkSecretstreamMiB(b *testing.B) {
	key := testKey()
	pt := make([]byte, 1<<20)
	ct := testutil.Must(Encrypt(nil, key, pt))(b)
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := Encrypt(nil, key, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := Decrypt(key, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writer", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			w := testutil.Must(NewWriter(io.Discard, key, nil))(b)
			_, _ = w.Write(pt)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reader", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			r := testutil.Must(NewReader(bytes.NewReader(ct), key))(b)
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSDKTagBehaviour replays libsodium streams with unusual tags and
// expects the outcome the official XDK showed for each.
func TestSDKTagBehaviour(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk_tag_behaviour.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Key   string `json:"key"`
		Cases []struct {
			Name   string `json:"name"`
			Stream string `json:"stream"`
			SDK    string `json:"sdk_0_4_3"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	want := map[string]error{"accept": nil, "decrypt": ErrDecrypt, "truncated": ErrTruncated, "data_after_final": ErrDataAfterFinal}
	key := unhex(t, f.Key)
	for _, c := range f.Cases {
		w, ok := want[c.SDK]
		if !ok {
			t.Fatalf("%s: unknown outcome %q", c.Name, c.SDK)
		}
		_, err := Decrypt(key, unhex(t, c.Stream))
		if (w == nil && err != nil) || (w != nil && !errors.Is(err, w)) {
			t.Errorf("%s: Decrypt = %v, SDK outcome %s", c.Name, err, c.SDK)
		}
		r := testutil.Must(NewReader(bytes.NewReader(unhex(t, c.Stream)), key))(t)
		_, err = io.ReadAll(r)
		if (w == nil && err != nil) || (w != nil && !errors.Is(err, w)) {
			t.Errorf("%s: Reader = %v, SDK outcome %s", c.Name, err, c.SDK)
		}
	}
}

// TestSDKStreams decrypts streams produced by the official XDK.
func TestSDKStreams(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk_streams.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Key   string `json:"key"`
		Cases []struct {
			Plaintext string `json:"plaintext"`
			Stream    string `json:"stream"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Cases) == 0 {
		t.Fatalf("bad vector file: %v", err)
	}
	key := unhex(t, f.Key)
	for i, c := range f.Cases {
		pt, stream := unhex(t, c.Plaintext), unhex(t, c.Stream)
		got, err := Decrypt(key, stream)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("case %d (%d bytes): %v", i, len(pt), err)
		}
		if int64(len(stream)) != EncryptedSize(int64(len(pt))) {
			t.Errorf("case %d: SDK stream %d bytes, EncryptedSize %d", i, len(stream), EncryptedSize(int64(len(pt))))
		}
	}
}

// TestReadAllHint: the announced size only sizes the first buffer. Whatever
// it says (exact, too small, too large, absent), ReadAllHint returns the
// stream whole or fails exactly as ReadAll does, whatever the reads' sizes;
// an exact size makes one buffer that the stream fills without growing.
func TestReadAllHint(t *testing.T) {
	key := testKey()
	for _, size := range []int{0, 1, 8, 1016, 1023, 1024, 1025, 2048, 3000, 64<<10 + 1, 300_000} {
		pt := make([]byte, size)
		for i := range pt {
			pt[i] = byte(i*7 + 3)
		}
		ct := testutil.Must(Encrypt(nil, key, pt))(t)
		for _, hint := range []int{0, 1, size / 2, size - 1, size, size + 1, 2 * size, len(ct)} {
			for _, rd := range []func() io.Reader{
				func() io.Reader { return bytes.NewReader(ct) },
				func() io.Reader { return iotest.HalfReader(bytes.NewReader(ct)) },
				func() io.Reader { return iotest.OneByteReader(bytes.NewReader(ct)) },
			} {
				r := testutil.Must(NewReader(rd(), key))(t)
				got, err := r.ReadAllHint(hint)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("size %d hint %d: %d bytes, %v", size, hint, len(got), err)
				}
				if hint == size && size > 0 && cap(got) > size+EncryptedChunkSize {
					t.Fatalf("size %d, exact hint: buffer of %d", size, cap(got))
				}
			}
		}
	}
}

// TestReadAllHintAllocates: with the exact size announced, a 1 MiB stream
// is decrypted into one buffer of about its size: the bytes allocated stay
// below the plaintext plus one frame and the Reader's own state.
func TestReadAllHintAllocates(t *testing.T) {
	key := testKey()
	const size = 1 << 20
	ct := testutil.Must(Encrypt(nil, key, make([]byte, size)))(t)
	for _, c := range []struct {
		hint  int
		bound uint64
	}{
		{size, size + 16<<10},       // one buffer (pages rounded up) and the Reader
		{0, 3 * size},               // doubling from 64 KiB, as ReadAll
		{size / 2, 2*size + 16<<10}, // too small: grows once, to twice
	} {
		var err error
		n := testutil.LeastAllocatedBytes(3, func() {
			r, rerr := NewReader(bytes.NewReader(ct), key)
			if rerr != nil {
				err = rerr
				return
			}
			_, err = r.ReadAllHint(c.hint)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > c.bound {
			t.Errorf("hint %d: %d bytes allocated, want at most %d", c.hint, n, c.bound)
		}
	}
}

// TestReadAllHintRejects: the failures of TestRejections, through
// ReadAllHint with announced sizes that are right, short and long.
func TestReadAllHintRejects(t *testing.T) {
	key := testKey()
	pt := bytes.Repeat([]byte("xchat media "), 300) // 3600 bytes: 4 frames
	ct := testutil.Must(Encrypt(nil, key, pt))(t)
	full := testutil.Must(Encrypt(nil, key, pt[:3*ChunkSize]))(t)
	flip := bytes.Clone(ct)
	flip[HeaderSize+EncryptedChunkSize+7] ^= 1 // inside a full frame
	flipTag := bytes.Clone(ct)
	flipTag[HeaderSize] ^= 1 // the encrypted tag of the first frame
	flipMAC := bytes.Clone(ct)
	flipMAC[HeaderSize+EncryptedChunkSize-1] ^= 1
	flipLast := bytes.Clone(ct)
	flipLast[len(flipLast)-20] ^= 1 // inside the short last frame
	f0, f1 := HeaderSize, HeaderSize+EncryptedChunkSize
	f2 := f1 + EncryptedChunkSize
	reordered := slices.Concat(ct[:f0], ct[f1:f2], ct[f0:f1], ct[f2:]) // frames 1 and 0 swapped
	other := testutil.Must(Encrypt(nil, key, pt))(t)                   // another stream, same key and size
	spliced := slices.Concat(ct[:f2], other[f2:])                      // its frames from the third on
	cases := []struct {
		name string
		ct   []byte
		want error
	}{
		{"short header", ct[:HeaderSize-1], ErrTruncated},
		{"truncated at frame boundary", ct[:HeaderSize+EncryptedChunkSize], ErrTruncated},
		{"truncated mid frame", ct[:HeaderSize+EncryptedChunkSize+100], ErrDecrypt},
		{"last frame dropped", ct[:len(ct)-(len(pt)%ChunkSize+ABytes)], ErrTruncated},
		{"data after final", append(bytes.Clone(full), 0), ErrDataAfterFinal},
		{"trailing bytes", append(bytes.Clone(ct), 0), ErrDecrypt},
		{"bit flip", flip, ErrDecrypt},
		{"tag flip", flipTag, ErrDecrypt},
		{"MAC flip", flipMAC, ErrDecrypt},
		{"last frame flip", flipLast, ErrDecrypt},
		{"tiny frame", append(bytes.Clone(ct[:HeaderSize]), 1, 2, 3), ErrDecrypt},
		{"frames reordered", reordered, ErrDecrypt},
		{"streams spliced", spliced, ErrDecrypt},
	}
	for _, c := range cases {
		for _, hint := range []int{0, 1, len(pt), len(pt) + 5000} {
			for _, rd := range []io.Reader{bytes.NewReader(c.ct), iotest.OneByteReader(bytes.NewReader(c.ct))} {
				r := testutil.Must(NewReader(rd, key))(t)
				if got, err := r.ReadAllHint(hint); !errors.Is(err, c.want) || got != nil {
					t.Errorf("%s, hint %d: %d bytes, %v, want %v", c.name, hint, len(got), err, c.want)
				}
			}
		}
	}
}
