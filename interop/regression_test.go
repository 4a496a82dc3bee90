package interop

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Regression tests for disagreements and weaknesses the live suite found.
// They need neither Node nor xchatd: two engines over the in-process
// emulator, with the same hostile transport the suite uses.

// newLocalUsers returns n registered engines over one in-process emulator.
func newLocalUsers(t *testing.T, n int) []*ours {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })
	var out []*ours
	for i := range n {
		id, token := testutil.Provision(t, srv.Client(), srv.URL, fmt.Sprintf("user%d", i))
		c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(token), api.WithHTTPClient(srv.Client()), api.WithMaxAttempts(1))
		if err != nil {
			t.Fatal(err)
		}
		store := keystore.NewMemory()
		if err := session.CreateAccount(ctx, store, id, nil); err != nil {
			t.Fatal(err)
		}
		hs := &hostileServer{Server: session.NewAPIServer(c)}
		e, err := session.Open(ctx, store, hs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		if _, err := e.Register(ctx); err != nil {
			t.Fatal(err)
		}
		out = append(out, &ours{id: id, e: e, client: c, srv: hs})
	}
	return out
}

// newLocalPair returns two registered engines sharing a keyed 1:1
// conversation.
func newLocalPair(t *testing.T) (a, b *ours, conv string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u := newLocalUsers(t, 2)
	snt, err := u[0].e.SendText(ctx, u[1].id, "hi")
	if err != nil {
		t.Fatal(err)
	}
	return u[0], u[1], snt.ConversationID
}

// A media stream cut down to its 24-byte secretstream header must not
// decrypt as an empty file when the attachment announces a non-empty one.
//
// Found by row "15 media truncated" (official->ours): the attachment says
// filesize_bytes 3075 (24 + 2x1041 + 969, a 3000-byte file), the hostile
// server returns only the first 24 bytes, and Engine.DownloadMedia returns
// 0 bytes and no error. The XDK's decryptStream has the same weakness
// (SDK-FACTS.md §12: a header-only stream is also how an empty plaintext
// is encoded), so only the announced size can tell the two apart.
func TestRegressionHeaderOnlyMediaStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b, conv := newLocalPair(t)
	data := payload(3000, 42)
	snt, err := a.e.Send(ctx, conv, session.Outgoing{Media: &session.Media{Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "f.bin", Type: event.MediaFile}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Sync(ctx, conv, nil); err != nil {
		t.Fatal(err)
	}
	h, err := b.e.History(ctx, conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	e := entry(t, h, snt.MessageID)
	if len(e.Attachments) != 1 || e.Attachments[0].Media == nil {
		t.Fatalf("no media attachment: %+v", e)
	}
	att := e.Attachments[0].Media
	if got, err := b.e.DownloadMedia(ctx, conv, att, e.KeyVersion, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("untampered download: %d bytes, %v", len(got), err)
	}
	b.srv.setMedia(func(blob []byte) []byte { return blob[:min(24, len(blob))] })
	got, err := b.e.DownloadMedia(ctx, conv, att, e.KeyVersion, 0)
	if err == nil {
		t.Fatalf("DownloadMedia accepted a header-only stream for a %d-byte attachment (filesize_bytes %d): %d bytes out",
			len(data), att.FilesizeBytes, len(got))
	}
}

// A group member who first syncs after a member add must still learn the
// group title.
//
// Found by row "25 admin adds to titled group" (official->ours), and
// reproduced here with our engines only. The creator signs the encrypted
// title (secretbox under key v1) in the GroupCreate; AddMembers rotates to
// v2, signs current_title = the v1 ciphertext and sends encrypted_title
// re-encrypted under v2 (the server's group_name). A member who had not
// synced before the add receives only the latest key change (v2) in
// meta.conversation_key_events (the group has no message under v1), so the
// v1 title does not open; Engine.decryptTitle then stores the ciphertext as
// the plaintext title ("may be plaintext from another client"), and
// refreshGroupTitle, which only runs while Title is empty, never replaces it
// with group_name (which opens under v2). Conversation.Title shows base64
// ciphertext.
func TestRegressionGroupTitleAfterMemberAdd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u := newLocalUsers(t, 3)
	creator, member, newcomer := u[0], u[1], u[2]
	gid, err := creator.e.CreateGroup(ctx, session.GroupOptions{Members: []string{member.id}, Title: "Ops team"})
	if err != nil {
		t.Fatal(err)
	}
	if err := creator.e.AddMembers(ctx, gid, newcomer.id); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*ours{member, newcomer} {
		if _, err := x.e.RefreshConversations(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := x.e.Sync(ctx, gid, nil); err != nil {
			t.Fatal(err)
		}
		c, err := x.e.Conversation(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		if c.Title != "Ops team" {
			t.Errorf("user %s: group title %q, want %q", x.id, c.Title, "Ops team")
		}
	}
}
