package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// demo is a local emulator for the examples (see emulator.Start).
type demo struct {
	local *emulator.Local
}

func newDemo() *demo {
	local, err := emulator.Start(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	return &demo{local: local}
}

func (d *demo) Close() { _ = d.local.Close() }

// account provisions a user on the emulator, creates and registers its
// account and returns the opened engine.
func (d *demo) account(ctx context.Context, name string, opts ...session.Option) *session.Engine {
	id, token := d.provision(name)
	return d.device(ctx, id, token, opts...)
}

// provision creates a user on the emulator.
func (d *demo) provision(name string) (id, token string) {
	u, err := d.local.AddUser(context.Background(), name)
	if err != nil {
		log.Fatal(err)
	}
	return u.ID, u.Token
}

// device creates, opens and registers a fresh key pair for user id: a new
// account, or an existing user reinstalling.
func (d *demo) device(ctx context.Context, id, token string, opts ...session.Option) *session.Engine {
	client, err := api.New(api.WithBaseURL(d.local.URL), api.WithBearerToken(token))
	if err != nil {
		log.Fatal(err)
	}
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		log.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(client), opts...)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Register(ctx); err != nil {
		log.Fatal(err)
	}
	return e
}

// Open an account: create its keys once, open the engine, publish the keys.
func ExampleOpen() {
	ctx := context.Background()
	local, err := emulator.Start(ctx, "alice") // or X itself: api.New(api.WithBearerToken(token))
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	alice := local.Users["alice"]

	store := keystore.NewMemory() // keystore.Open(path, keystore.WithPassphrase(p)) on disk
	if err := session.CreateAccount(ctx, store, alice.ID, nil); err != nil {
		log.Fatal(err)
	}
	client, err := api.New(api.WithBaseURL(local.URL), api.WithBearerToken(alice.Token))
	if err != nil {
		log.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(client), session.WithTrustPolicy(session.TrustOnFirstUse))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	version, err := e.Register(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fp, err := e.Fingerprint()
	if err != nil {
		log.Fatal(err)
	}
	backup, err := e.ExportBackup()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(version == e.PublicKeyVersion(), len(fp), len(backup))
	// Output: true 43 64
}

// Start a one-to-one conversation: the first key change wraps a fresh
// conversation key to both parties' pinned identity keys.
func Example_startConversation() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")

	cid, err := alice.EnsureConversationKey(ctx, bob.UserID())
	if err != nil {
		log.Fatal(err)
	}
	c, err := alice.Conversation(ctx, cid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Kind, c.KeyVersion != "", api.ConversationPathID(cid) == api.ConversationPathID(c.ID))
	// Both users compare this number out of band, then call Verify.
	an, err := alice.SafetyNumber(ctx, bob.UserID())
	if err != nil {
		log.Fatal(err)
	}
	bn, err := bob.SafetyNumber(ctx, alice.UserID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(an == bn, len(an))
	// Output:
	// one_to_one true true
	// true 71
}

// Send a message; a bare user id names the one-to-one conversation.
func Example_send() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")

	sent, err := alice.Send(ctx, bob.UserID(), session.Outgoing{
		Text:     "see https://x.com",
		Entities: []event.Entity{{Start: 4, End: 17, Type: event.EntityURL}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sent.Entry.Text, sent.Entry.Verified)
	if _, err := alice.Send(ctx, sent.ConversationID, session.Outgoing{React: sent.SequenceID, Emoji: "👍"}); err != nil {
		log.Fatal(err)
	}
	pending, err := alice.Outbox(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(pending))
	// Output:
	// see https://x.com true
	// 0
}

// Sync a conversation: events are verified, decrypted and stored.
func Example_sync() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")
	if _, err := alice.SendText(ctx, bob.UserID(), "hello bob"); err != nil {
		log.Fatal(err)
	}

	res, err := bob.Sync(ctx, alice.UserID(), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Entries {
		fmt.Println(e.Type, e.Text, e.Verified)
	}
	hist, err := bob.History(ctx, alice.UserID(), "", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(hist), len(res.Anomalies))
	// Output:
	// key_change  true
	// message hello bob true
	// 2 0
}

// Create a group and add a member (which rotates the group key).
func Example_group() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob, carol := d.account(ctx, "alice"), d.account(ctx, "bob"), d.account(ctx, "carol")

	gid, err := alice.CreateGroup(ctx, session.GroupOptions{Members: []string{bob.UserID()}, Title: "Team"})
	if err != nil {
		log.Fatal(err)
	}
	if err := alice.AddMembers(ctx, gid, carol.UserID()); err != nil {
		log.Fatal(err)
	}
	if _, err := alice.SendText(ctx, gid, "welcome"); err != nil {
		log.Fatal(err)
	}
	res, err := carol.Sync(ctx, gid, nil)
	if err != nil {
		log.Fatal(err)
	}
	c, err := carol.Conversation(ctx, gid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(session.IsGroup(gid), len(c.Members), c.Title)
	for _, e := range res.Entries {
		if e.Type == event.TypeMessage {
			fmt.Println(e.Text, e.Verified)
		}
	}
	// Output:
	// true 3 Team
	// welcome true
}

// Read how far a group's roster rests on signed group changes: the creator
// chose everyone; a member added later never sees the group's creation and
// takes the roster before its join on trust.
func Example_rosterState() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob, carol := d.account(ctx, "alice"), d.account(ctx, "bob"), d.account(ctx, "carol")

	gid, err := alice.CreateGroup(ctx, session.GroupOptions{Members: []string{bob.UserID()}})
	if err != nil {
		log.Fatal(err)
	}
	if err := alice.AddMembers(ctx, gid, carol.UserID()); err != nil {
		log.Fatal(err)
	}
	for _, u := range []*session.Engine{alice, bob, carol} {
		res, err := u.Sync(ctx, gid, nil)
		if err != nil {
			log.Fatal(err)
		}
		c, err := u.Conversation(ctx, gid)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Roster, len(c.Members), c.RosterSince != "", len(c.UnconfirmedMembers))
	}
	// A rotation wraps the new key to the signed roster only.
	if _, err := carol.Rotate(ctx, gid); err != nil {
		log.Fatal(err)
	}
	// Output:
	// confirmed 3 false 0
	// confirmed 3 false 0
	// unconfirmed 3 true 2
}

// Rotate a conversation key on demand: later messages use the new version.
func Example_rotate() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")
	first, err := alice.SendText(ctx, bob.UserID(), "before")
	if err != nil {
		log.Fatal(err)
	}
	version, err := alice.Rotate(ctx, first.ConversationID)
	if err != nil {
		log.Fatal(err)
	}
	second, err := alice.SendText(ctx, first.ConversationID, "after")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(second.KeyVersion == version, first.KeyVersion < version)

	res, err := bob.Sync(ctx, first.ConversationID, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Entries {
		if e.Type == event.TypeMessage {
			fmt.Println(e.Text, e.KeyVersion == version)
		}
	}
	// Output:
	// true true
	// before false
	// after true
}

// React to peer key changes by kind: a rotation is the peer's new keys
// (pinned under trust on first use); a backdated or implausible version is
// the server's doing and was refused; a skipped one was stored unvouched.
func Example_keyChanges() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	onChange := func(k session.KeyChanged) {
		switch k.Kind {
		case session.KeyRotated:
			fmt.Println("new keys for the peer, pinned:", k.Pinned)
		case session.KeyBackdated, session.KeyImplausible:
			fmt.Println("server published refused keys:", k.Kind, k.New.Version)
		case session.KeySkipped:
			fmt.Println("unvouched keys stored:", k.New.Version)
		}
	}
	bob := d.account(ctx, "bob", session.WithKeyChangeHandler(onChange))
	aliceID, token := d.provision("alice")
	alice := d.device(ctx, aliceID, token)
	if _, err := alice.SendText(ctx, bob.UserID(), "hi"); err != nil {
		log.Fatal(err)
	}
	if _, err := bob.RefreshPeers(ctx, aliceID); err != nil { // first contact: pinned, no report
		log.Fatal(err)
	}
	d.device(ctx, aliceID, token) // alice reinstalls: new keys, new version
	changes, err := bob.RefreshPeers(ctx, aliceID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(changes), changes[0].Kind)
	// Output:
	// new keys for the peer, pinned: true
	// 1 rotated
}

// Reply to a message: the reply quotes the original's signed event, so the
// recipient checks the quoted preview against what was really sent.
func Example_reply() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")
	q, err := alice.SendText(ctx, bob.UserID(), "lunch at noon?")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := bob.Sync(ctx, alice.UserID(), nil); err != nil { // bob needs the original to quote it
		log.Fatal(err)
	}
	if _, err := bob.Send(ctx, alice.UserID(), session.Outgoing{Text: "yes!", ReplyTo: q.SequenceID}); err != nil {
		log.Fatal(err)
	}
	res, err := alice.Sync(ctx, bob.UserID(), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Entries {
		if e.ReplyTo != nil {
			fmt.Printf("%s (re %q, preview %s) %v\n", e.Text, e.ReplyTo.Text, e.ReplyTo.Validation, e.Verified)
		}
	}
	// Output: yes! (re "lunch at noon?", preview valid) true
}

// Send a file: it is encrypted with the conversation key (streamed, in
// segments) before it is uploaded; the recipient downloads and decrypts it.
func Example_media() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice, bob := d.account(ctx, "alice"), d.account(ctx, "bob")
	data := []byte("%PDF-1.7 minutes of the meeting")
	_, err := alice.Send(ctx, bob.UserID(), session.Outgoing{Text: "the minutes", Media: &session.Media{
		Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "minutes.pdf",
		Type: event.MediaFile,
	}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := bob.Sync(ctx, alice.UserID(), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Entries {
		for _, a := range e.Attachments {
			if a.Media == nil {
				continue
			}
			got, err := bob.DownloadMedia(ctx, e.ConversationID, a.Media, e.KeyVersion, 0)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(e.Text, a.Media.Filename, e.Verified, bytes.Equal(got, data))
		}
	}
	// Output: the minutes minutes.pdf true true
}

// Strict trust: nothing is encrypted to a peer's keys until the user has
// compared safety numbers out of band and called Verify.
func Example_strictTrust() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()
	alice := d.account(ctx, "alice")
	bob := d.account(ctx, "bob", session.WithTrustPolicy(session.TrustStrict))

	_, err := bob.SendText(ctx, alice.UserID(), "hi")
	fmt.Println(errors.Is(err, xchat.ErrUnverifiedPeer))

	// Both read their safety number to each other (in person, by phone…).
	theirs, err := alice.SafetyNumber(ctx, bob.UserID())
	if err != nil {
		log.Fatal(err)
	}
	mine, err := bob.SafetyNumber(ctx, alice.UserID())
	if err != nil {
		log.Fatal(err)
	}
	if mine == theirs {
		if err := bob.Verify(ctx, alice.UserID(), mine); err != nil {
			log.Fatal(err)
		}
	}
	sent, err := bob.SendText(ctx, alice.UserID(), "hi, verified")
	fmt.Println(err == nil, sent.Entry.Verified)
	// Output:
	// true
	// true true
}
