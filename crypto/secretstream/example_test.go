package secretstream_test

import (
	"bytes"
	"fmt"
	"io"
	"log"

	"github.com/xchat-go/xchat/crypto/secretstream"
)

// Example encrypts a media blob with the conversation key and decrypts it
// incrementally.
func Example() {
	key := make([]byte, secretstream.KeySize) // the 32-byte conversation key
	media := bytes.Repeat([]byte("jpeg"), 600)

	var wire bytes.Buffer
	w, err := secretstream.NewWriter(&wire, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	_, _ = w.Write(media)
	_ = w.Close()
	fmt.Println(wire.Len() == int(secretstream.EncryptedSize(int64(len(media)))))

	r, err := secretstream.NewReader(&wire, key)
	if err != nil {
		log.Fatal(err)
	}
	got, err := io.ReadAll(r)
	fmt.Println(err, bytes.Equal(got, media))
	// Output:
	// true
	// <nil> true
}

// ExampleReader_ReadAllHint decrypts a downloaded blob into one buffer sized
// from the size its sender announced, bounded by what the recipient is
// willing to allocate up front; a wrong announcement costs at most that
// bound and never changes the result.
func ExampleReader_ReadAllHint() {
	key := make([]byte, secretstream.KeySize)
	media := bytes.Repeat([]byte("mp4 "), 5000)
	blob, err := secretstream.Encrypt(nil, key, media)
	if err != nil {
		log.Fatal(err)
	}
	const upFront = 1 << 20
	for _, announced := range []int64{int64(len(blob)), 1 << 40} {
		r, err := secretstream.NewReader(bytes.NewReader(blob), key)
		if err != nil {
			log.Fatal(err)
		}
		got, err := r.ReadAllHint(int(min(announced, upFront)))
		fmt.Println(err, bytes.Equal(got, media))
	}
	// Output:
	// <nil> true
	// <nil> true
}
