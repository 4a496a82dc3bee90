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
