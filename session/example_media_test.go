package session_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// saveMedia downloads an attachment into path without ever leaving part of
// it there: the frames stream into a temporary file beside path, which is
// renamed into place only once DownloadMediaTo has checked the whole
// stream. On any error the temporary file, holding at most a prefix, is
// removed.
func saveMedia(ctx context.Context, e *session.Engine, en *event.Entry, att *event.MediaAttachment, path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10) // one Write per 1 KiB frame otherwise
	if _, err := e.DownloadMediaTo(ctx, w, en.ConversationID, att, en.KeyVersion, 0); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Save a received file to disk as it downloads, holding one frame of it in
// memory: DownloadMediaTo writes each frame once it authenticated, but only
// a nil error says the file is whole, so write to a temporary file and
// rename it into place on success.
func ExampleEngine_DownloadMediaTo() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")
	data := bytes.Repeat([]byte("a long recording "), 10_000) // 170 kB
	_, err := alice.Send(ctx, bob.UserID(), session.Outgoing{Media: &session.Media{
		Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "talk.ogg", Type: event.MediaAudio,
	}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := bob.Sync(ctx, alice.UserID(), nil)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for i := range res.Entries {
		en := &res.Entries[i]
		for _, a := range en.Attachments {
			if a.Media == nil {
				continue
			}
			// The filename is the sender's to choose: never let it choose
			// where the file goes.
			name := filepath.Base(a.Media.Filename)
			if !filepath.IsLocal(name) {
				name = "attachment"
			}
			path := filepath.Join(dir, name)
			if err := saveMedia(ctx, bob, en, a.Media, path); err != nil {
				log.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(filepath.Base(path), len(got), bytes.Equal(got, data))
		}
	}
	// Output: talk.ogg 170000 true
}
