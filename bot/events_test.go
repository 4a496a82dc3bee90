package bot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// TestJoinEditReaction: being added to a group runs OnJoin (the adder
// as sender), an edit OnEdit (new text, target), a reaction OnReaction
// (emoji, target); each handler answers and the peers read it.
func TestJoinEditReaction(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, carol, echobot := n.user("alice"), n.user("carol"), n.user("echobot")
	rec := newRecord()
	b := echoBot(echobot, rec)
	b.OnJoin(func(c *bot.Context) error {
		rec.add(c)
		_, err := c.Send("hello, I answer !echo")
		return err
	})
	b.OnEdit(func(c *bot.Context) error {
		rec.add(c)
		_, err := c.Send("edited " + c.Target() + " to " + c.Text())
		return err
	})
	b.OnReaction(func(c *bot.Context) error {
		rec.add(c)
		emoji, removed := c.Reaction()
		_, err := c.Send(fmt.Sprintf("reaction %s removed=%v", emoji, removed))
		return err
	})
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)

	g, err := carol.e.CreateGroup(ctx, session.GroupOptions{Members: []string{echobot.id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := joined(carol.waitMessages(ctx, g, echobot.id, 1)); got != "hello, I answer !echo" {
		t.Fatalf("carol read %q", got)
	}
	msg := alice.send(ctx, echobot.id, "typo")
	if _, err := alice.e.Send(ctx, msg.ConversationID, session.Outgoing{Edit: msg.SequenceID, Text: "fixed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Send(ctx, msg.ConversationID, session.Outgoing{React: msg.SequenceID, Emoji: "👍"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"edited " + msg.SequenceID + " to fixed", "reaction 👍 removed=false"}
	if got := alice.waitMessages(ctx, msg.ConversationID, echobot.id, 2); !slices.Equal(got, want) {
		t.Fatalf("alice read %q, want %q", got, want)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	calls := rec.snapshot()
	kinds := []bot.Kind{}
	for _, c := range calls {
		kinds = append(kinds, c.kind)
	}
	if !slices.Equal(kinds, []bot.Kind{bot.KindJoin, bot.KindMessage, bot.KindEdit, bot.KindReaction}) {
		t.Fatalf("kinds %v", kinds)
	}
	if calls[0].sender != carol.id || calls[0].conv != g || !calls[0].isGroup {
		t.Fatalf("join %+v", calls[0])
	}
}

// TestFileRoundTrip: alice sends a file with the caption "!file"; the
// handler downloads and decrypts it on demand, and sends it back; alice
// downloads the bot's copy and gets her bytes.
func TestFileRoundTrip(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	rec := newRecord()
	b := echoBot(echobot, rec)
	b.Command("file", func(c *bot.Context) error {
		rec.add(c)
		media := c.Media()
		if len(media) != 1 {
			_, err := c.Reply("attach one file")
			return err
		}
		data, err := media[0].Download(c)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		_, err = c.SendFile(bot.File{Name: "back-" + media[0].Name(), Data: data, Caption: hex.EncodeToString(sum[:])})
		return err
	})
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	blob := bytes.Repeat([]byte("xchat bot file round trip\n"), 4000) // ~100 KiB, several chunks
	sent, err := alice.e.Send(ctx, echobot.id, session.Outgoing{Text: "!file", Media: &session.Media{Data: bytes.NewReader(blob), Size: int64(len(blob)),
		Filename: "notes.txt", Type: event.MediaFile}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(blob)
	if got := joined(alice.waitMessages(ctx, sent.ConversationID, echobot.id, 1)); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("caption %q", got)
	}
	back := alice.messages(ctx, sent.ConversationID, echobot.id)[0]
	if len(back.Attachments) != 1 || back.Attachments[0].Media == nil || back.Attachments[0].Media.Filename != "back-notes.txt" {
		t.Fatalf("the bot's message carries %+v", back.Attachments)
	}
	got, err := alice.e.DownloadMedia(ctx, sent.ConversationID, back.Attachments[0].Media, back.KeyVersion, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, blob) {
		t.Fatalf("round trip changed the file: %d bytes back", len(got))
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyChange: when alice re-keys her account (new keys published under
// a newer version), the bot reports it to OnKeyChange, once, and still
// handles her commands, now signed with the new key.
func TestKeyChange(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	conv := alice.send(ctx, echobot.id, "hi").ConversationID
	var mu sync.Mutex
	var changes []session.KeyChanged
	rec := newRecord()
	b := echoBot(echobot, rec)
	b.OnKeyChange(func(_ context.Context, kc session.KeyChanged) {
		mu.Lock()
		changes = append(changes, kc)
		mu.Unlock()
	})
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)

	// alice's new device: fresh keys for the same account.
	alice.store = keystore.NewMemory()
	if err := session.CreateAccount(ctx, alice.store, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	alice.open()
	if _, err := alice.e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Sync(ctx, conv, nil); err != nil {
		t.Fatal(err)
	}
	alice.send(ctx, conv, "!echo new keys")
	rec.waitFor(t, ctx, "the command signed with the new key", func() bool { return len(rec.calls) == 2 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0].UserID != alice.id || changes[0].Kind != session.KeyRotated || changes[0].New.Version != alice.e.PublicKeyVersion() {
		t.Fatalf("key changes %+v", changes)
	}
	if b.Stats().KeyChanges != 1 {
		t.Fatalf("stats %+v", b.Stats())
	}
}

// TestContextActions: a handler shows typing, reacts to the command,
// answers, and edits its answer; alice reads the reaction on her command
// and the edit of the bot's answer, all verified.
func TestContextActions(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	rec := newRecord()
	b := echoBot(echobot, rec)
	b.Command("work", func(c *bot.Context) error {
		rec.add(c)
		if err := c.Typing(); err != nil {
			return err
		}
		if _, err := c.React("👀"); err != nil {
			return err
		}
		sent, err := c.Reply("working…")
		if err != nil {
			return err
		}
		_, err = c.Edit(sent.SequenceID, "done")
		return err
	})
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	cmd := alice.send(ctx, echobot.id, "!work")
	var hist []event.Entry
	for len(hist) == 0 || hist[len(hist)-1].Type != event.TypeEdit {
		if _, err := alice.e.Sync(ctx, cmd.ConversationID, nil); err != nil {
			t.Fatal(err)
		}
		var err error
		if hist, err = alice.e.History(ctx, cmd.ConversationID, cmd.SequenceID, 0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alice reads %+v", hist)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range hist {
		if en.SenderID != echobot.id || !en.Verified {
			t.Fatalf("entry %+v", en)
		}
		got = append(got, en.Type+":"+en.Emoji+en.Text)
	}
	if want := []string{"reaction_add:👀", "message:working…", "edit:done"}; !slices.Equal(got, want) {
		t.Fatalf("alice reads %q, want %q", got, want)
	}
	if hist[0].TargetSequenceID != cmd.SequenceID || hist[2].TargetSequenceID != hist[1].SequenceID {
		t.Fatalf("targets %+v", hist)
	}
}
