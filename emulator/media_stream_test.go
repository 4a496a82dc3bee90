package emulator_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// TestMediaDownloadLeavesServerFree: a client that has the headers of a
// large media download but has not read its body yet does not stall the
// rest of the server (the blob is written outside the server's lock), and
// then reads the blob whole. Were the blob written under the lock, the
// second request would wait for the first body to be read, which this test
// only does afterwards: it would hang until the watchdog deadline.
func TestMediaDownloadLeavesServerFree(t *testing.T) {
	f := newChatFixture(t)
	e, a, b := f.e, f.a, f.b
	// Larger than what loopback socket buffers hold, so that writing it
	// blocks until the client reads.
	const size, seg = 32 << 20, 4 << 20
	blob := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	var ini api.ChatMediaUploadInitializeResponse
	e.must(e.do("POST", "/2/chat/media/upload/initialize", a.token, map[string]any{"conversation_id": f.conv, "total_bytes": size}), http.StatusOK).decode(t, &ini)
	for i := 0; i*seg < size; i++ {
		e.must(e.do("POST", "/2/chat/media/upload/"+ini.Data.SessionID+"/append", a.token, map[string]any{"conversation_id": f.conv,
			"media_hash_key": ini.Data.MediaHashKey, "segment_index": i, "media": blob[i*seg : (i+1)*seg]}), http.StatusOK)
	}
	e.must(e.do("POST", "/2/chat/media/upload/"+ini.Data.SessionID+"/finalize", a.token, map[string]any{"conversation_id": f.hyphen,
		"media_hash_key": ini.Data.MediaHashKey, "num_parts": strconv.Itoa(size / seg)}), http.StatusOK)

	// A watchdog, not a measure: it turns a hang into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/2/chat/media/"+a.id+"/"+ini.Data.MediaHashKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ContentLength != size {
		t.Fatalf("download: status %d, length %d", res.StatusCode, res.ContentLength)
	}
	me, err := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/2/users/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	me.Header.Set("Authorization", "Bearer "+a.token)
	other, err := e.ts.Client().Do(me)
	if err != nil {
		t.Fatalf("a request during an unread download: %v", err)
	}
	other.Body.Close()
	if other.StatusCode != http.StatusOK {
		t.Fatalf("a request during an unread download: status %d", other.StatusCode)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("read %d of %d bytes: %v", len(got), size, err)
	}
}
