package wire

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// pooledEvent is benchEvent with n bytes of distinct contents.
func pooledEvent(n int) *event.MessageEvent {
	ev := benchEvent()
	c := make([]byte, n)
	for i := range c {
		c[i] = byte(i*7 + n)
	}
	ev.Detail.MessageCreateEvent.Contents = c
	return ev
}

// TestMarshalReusesBuffersSafely checks that Marshal's pooled encoders
// leave nothing behind: results do not share memory with each other or
// with the pool, a
// small value encoded after a large one (and after a failed encode) is
// exact, and concurrent encodes give the same bytes as sequential ones.
func TestMarshalReusesBuffersSafely(t *testing.T) {
	sizes := []int{0, 1, 300, 5000, 100 << 10, 17}
	want := make([][]byte, len(sizes))
	for i, n := range sizes {
		b, err := Marshal(pooledEvent(n))
		if err != nil {
			t.Fatal(err)
		}
		// Decoding checks the encoding is complete and exact.
		got, err := DecodeMessageEvent(b)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if c := got.Detail.MessageCreateEvent.Contents; !bytes.Equal(c, pooledEvent(n).Detail.MessageCreateEvent.Contents) {
			t.Fatalf("size %d: contents differ after round trip", n)
		}
		want[i] = b
	}
	// A failing encode in between must not disturb later ones.
	bad := pooledEvent(10)
	bad.Detail.MessageCreateEvent = nil // union with no variant
	if _, err := Marshal(bad); !errors.Is(err, ErrEncode) {
		t.Fatalf("empty union: %v", err)
	}
	b, err := Marshal(pooledEvent(17))
	if err != nil || !bytes.Equal(b, want[len(want)-1]) {
		t.Fatalf("after a failed encode: %v", err)
	}
	// Earlier results are not overwritten by later encodes, and scribbling
	// on a result does not reach the pool.
	for i, n := range sizes {
		again := testutil.Must(Marshal(pooledEvent(n)))(t)
		if !bytes.Equal(again, want[i]) {
			t.Fatalf("size %d: encoding not stable", n)
		}
		clear(again[:cap(again)])
	}
	for i, n := range sizes {
		again := testutil.Must(Marshal(pooledEvent(n)))(t)
		if !bytes.Equal(again, want[i]) {
			t.Fatalf("size %d: encoding changed after a result was modified", n)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 50 {
				i := (g + r) % len(sizes)
				got, err := Marshal(pooledEvent(sizes[i]))
				if err != nil || !bytes.Equal(got, want[i]) {
					errs <- fmt.Errorf("goroutine %d round %d: size %d differs (%v)", g, r, sizes[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestMarshalB64: MarshalB64 is EncodeB64 of Marshal, for any size (the
// pooled encoder reused in between), with maps (re-sorted into a new
// buffer) and for a value Marshal refuses.
func TestMarshalB64(t *testing.T) {
	for _, n := range []int{0, 1, 300, 5000, 100 << 10, 17} {
		want := EncodeB64(testutil.Must(Marshal(pooledEvent(n)))(t))
		if got := testutil.Must(MarshalB64(pooledEvent(n)))(t); got != want {
			t.Fatalf("size %d: MarshalB64 differs from EncodeB64(Marshal)", n)
		}
	}
	sig := Signature([]byte{1, 2, 3}, "1700000000000", 7)
	if got, want := testutil.Must(MarshalB64(sig))(t), EncodeB64(testutil.Must(Marshal(sig))(t)); got != want {
		t.Fatalf("signature: %q, want %q", got, want)
	}
	text := "t"
	holder := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
		MessageText: &text, AdditionalFields: map[string]string{"z": "1", "a": "2", "m": "3"}}}}
	if got, want := testutil.Must(MarshalB64(holder))(t), EncodeB64(testutil.Must(Marshal(holder))(t)); got != want {
		t.Fatalf("with a map: %q, want %q", got, want)
	}
	bad := pooledEvent(10)
	bad.Detail.MessageCreateEvent = nil
	if s, err := MarshalB64(bad); !errors.Is(err, ErrEncode) || s != "" {
		t.Fatalf("empty union: %q, %v", s, err)
	}
}
