package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

func TestMediaRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")

	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes, 79 chunks
	data = append(data, 'x')
	sent, err := alice.e.SendMedia(ctx, bob.id, Media{
		Data: bytes.NewReader(data), Size: int64(len(data)),
		Filename: "pic.png", Width: 640, Height: 480, Caption: "look",
	})
	if err != nil {
		t.Fatalf("SendMedia: %v", err)
	}
	res, err := bob.e.Sync(ctx, sent.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	en := findEntry(t, res.Entries, sent.SequenceID)
	if !en.Verified || en.Text != "look" || len(en.Attachments) != 1 || en.Attachments[0].Media == nil {
		t.Fatalf("entry %+v", en)
	}
	att := en.Attachments[0].Media
	if att.Filename != "pic.png" || att.Width != 640 || att.Type != event.MediaImage {
		t.Fatalf("attachment %+v", att)
	}
	got, err := bob.e.DownloadMedia(ctx, sent.ConversationID, att, en.KeyVersion, 0)
	if err != nil {
		t.Fatalf("DownloadMedia: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("media differs: %d vs %d bytes", len(got), len(data))
	}
	// A wrong key version does not decrypt.
	if _, err := alice.e.Rotate(ctx, sent.ConversationID); err != nil {
		t.Fatal(err)
	}
	c := testutil.Must(alice.e.Conversation(ctx, sent.ConversationID))(t)
	if _, err := alice.e.DownloadMedia(ctx, sent.ConversationID, att, c.KeyVersion, 0); err == nil {
		t.Fatal("media decrypted under the wrong key")
	}
}

// mediaTamper truncates downloaded media.
type mediaTamper struct {
	Server
	cut int
}

func (m *mediaTamper) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	rc, err := m.Server.MediaDownload(ctx, conv, hash)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b[:min(m.cut, len(b))])), nil
}

func TestMediaTruncation(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var mt *mediaTamper
	bob := n.userWith("bob", func(s Server) Server { mt = &mediaTamper{Server: s, cut: 1 << 30}; return mt })
	data := bytes.Repeat([]byte{7}, 3000)
	sent, err := alice.e.SendMedia(ctx, bob.id, Media{Data: bytes.NewReader(data), Size: 3000, Filename: "f.bin", Type: event.MediaFile})
	if err != nil {
		t.Fatal(err)
	}
	res, err := bob.e.Sync(ctx, sent.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	en := findEntry(t, res.Entries, sent.SequenceID)
	if len(en.Attachments) != 1 || en.Attachments[0].Media == nil {
		t.Fatalf("entry has attachments %+v, want one media attachment (error %q)", en.Attachments, en.Error)
	}
	att := en.Attachments[0].Media
	if att.FilesizeBytes != 3075 {
		t.Fatalf("filesize_bytes %d, want the encrypted size 3075", att.FilesizeBytes)
	}
	for _, cut := range []int{24, 24 + 1041, 3074} {
		mt.cut = cut
		if got, err := bob.e.DownloadMedia(ctx, sent.ConversationID, att, en.KeyVersion, 0); err == nil {
			t.Fatalf("cut at %d: accepted %d bytes", cut, len(got))
		}
	}
	mt.cut = 24
	if _, err := bob.e.DownloadMedia(ctx, sent.ConversationID, att, en.KeyVersion, 0); !errors.Is(err, ErrMediaTruncated) {
		t.Fatalf("header-only: %v", err)
	}
}
