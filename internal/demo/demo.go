// Package demo is the end-to-end walk-through run by "make demo"
// (cmd/xchat-demo): an in-process emulator on a loopback port, four
// accounts with their own encrypted keystores, a one-to-one chat, a group
// that gains a member (rotating its key), an encrypted image, a reply and a
// reaction, and every participant syncing and verifying what it received.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Verification marks used in the transcript.
const (
	MarkVerified = "✓"
	MarkFailed   = "✗"
)

// ErrUnverified reports that some event did not verify during the demo.
var ErrUnverified = errors.New("demo: some events failed verification")

// Options tune Run.
type Options struct {
	// Dir holds the keystores; "" creates (and removes) a temporary
	// directory.
	Dir string
	// Argon2 sets the keystores' passphrase hashing cost (zero value: the
	// keystore default).
	Argon2 keystore.Argon2Params
}

// Run runs the demo, writing the transcript to w. It returns ErrUnverified
// (wrapped) if any event failed verification, or the first error met.
func Run(ctx context.Context, w io.Writer, opts Options) (err error) {
	d := &demo{w: w, names: map[string]string{}, opts: opts}
	defer func() {
		if cerr := d.close(); err == nil {
			err = cerr
		}
	}()
	return d.run(ctx)
}

// user is one demo participant.
type user struct {
	name  string
	id    string
	store *boltstore.DB
	e     *session.Engine
}

type demo struct {
	w        io.Writer
	opts     Options
	dir      string
	tempDir  bool
	local    *emulator.Local
	base     string
	users    []*user
	names    map[string]string // user id -> name
	verified int
	failed   int
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.w, format, args...) }

func (d *demo) step(title string) { d.printf("\n== %s\n", title) }

func (d *demo) run(ctx context.Context) error {
	start := time.Now()
	if err := d.startEmulator(); err != nil {
		return err
	}
	d.printf("xchat demo: emulator listening on %s (in-process); keystores in %s\n", d.base, d.dir)

	d.step("Accounts: keys generated, stored encrypted, registered")
	alice, err := d.newUser(ctx, "alice")
	if err != nil {
		return err
	}
	bob, err := d.newUser(ctx, "bob")
	if err != nil {
		return err
	}
	carol, err := d.newUser(ctx, "carol")
	if err != nil {
		return err
	}

	d.step("1:1 chat alice ↔ bob")
	dm, err := d.send(ctx, alice, bob.id, session.Outgoing{Text: "Hi Bob! This chat is end-to-end encrypted."})
	if err != nil {
		return err
	}
	if err := d.syncShow(ctx, bob, dm.ConversationID); err != nil {
		return err
	}
	if _, err := d.send(ctx, bob, dm.ConversationID, session.Outgoing{Text: "Hi Alice, loud and clear.", ReplyTo: dm.SequenceID}); err != nil {
		return err
	}
	if err := d.syncShow(ctx, alice, dm.ConversationID); err != nil {
		return err
	}
	if err := d.compareSafetyNumbers(ctx, alice, bob); err != nil {
		return err
	}

	d.step("Group of three: alice creates it with bob and carol")
	gid, err := alice.e.CreateGroup(ctx, session.GroupOptions{
		Members: []string{bob.id, carol.id}, Admins: []string{alice.id, bob.id}, Title: "Launch plan"})
	if err != nil {
		return fmt.Errorf("demo: create group: %w", err)
	}
	g, err := alice.e.Conversation(ctx, gid)
	if err != nil {
		return err
	}
	d.printf("alice created group %s %q (admins alice, bob); key version %s wrapped to 3 members\n", gid, g.Title, g.KeyVersion)
	if _, err := d.send(ctx, alice, gid, session.Outgoing{Text: "Welcome to the launch group!"}); err != nil {
		return err
	}
	for _, u := range []*user{bob, carol} {
		if err := d.syncShow(ctx, u, gid); err != nil {
			return err
		}
	}

	d.step("bob adds dave (a fourth member): the group key is rotated")
	dave, err := d.newUser(ctx, "dave")
	if err != nil {
		return err
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		return err
	}
	before, _ := bob.e.Conversation(ctx, gid)
	if err := bob.e.AddMembers(ctx, gid, dave.id); err != nil {
		return fmt.Errorf("demo: add dave: %w", err)
	}
	after, err := bob.e.Conversation(ctx, gid)
	if err != nil {
		return err
	}
	if before == nil || after.KeyVersion == before.KeyVersion {
		return errors.New("demo: adding dave did not rotate the group key")
	}
	d.printf("bob added dave; key rotated: version %s → %s (wrapped to all 4 members)\n", before.KeyVersion, after.KeyVersion)
	if _, err := d.send(ctx, bob, gid, session.Outgoing{Text: "Dave, meet the team."}); err != nil {
		return err
	}

	d.step("carol sends an image (encrypted before upload)")
	if err := d.syncQuiet(ctx, carol, gid); err != nil {
		return err
	}
	pic, err := pngImage(32, 24)
	if err != nil {
		return err
	}
	img, err := carol.e.Send(ctx, gid, session.Outgoing{Text: "First mockup", Media: &session.Media{Data: bytes.NewReader(pic), Size: int64(len(pic)),
		Filename: "mockup.png", Type: event.MediaImage, Width: 32, Height: 24}})
	if err != nil {
		return fmt.Errorf("demo: carol sends image: %w", err)
	}
	d.printf("carol → group: image mockup.png (%d bytes, 32x24) with caption \"First mockup\" (#%s)\n", len(pic), img.SequenceID)

	d.step("dave replies and alice reacts")
	if err := d.syncQuiet(ctx, dave, gid); err != nil {
		return err
	}
	if _, err := d.send(ctx, dave, gid, session.Outgoing{Text: "Looks great!", ReplyTo: img.SequenceID}); err != nil {
		return err
	}
	if err := d.syncQuiet(ctx, alice, gid); err != nil {
		return err
	}
	if _, err := alice.e.Send(ctx, gid, session.Outgoing{React: img.SequenceID, Emoji: "🎉"}); err != nil {
		return fmt.Errorf("demo: alice reacts: %w", err)
	}
	d.printf("alice reacted 🎉 to #%s\n", img.SequenceID)

	d.step("Everyone syncs and verifies the group")
	for _, u := range []*user{alice, bob, carol, dave} {
		if err := d.syncShow(ctx, u, gid); err != nil {
			return err
		}
		if err := d.checkImage(ctx, u, gid, img.SequenceID, pic); err != nil {
			return err
		}
	}

	d.step("Summary")
	d.printf("%d events verified %s, %d failed %s, in %s\n", d.verified, MarkVerified, d.failed, MarkFailed,
		time.Since(start).Round(time.Millisecond))
	if d.failed > 0 {
		return fmt.Errorf("%w: %d", ErrUnverified, d.failed)
	}
	d.printf("All messages verified. Cleaning up.\n")
	return nil
}

// startEmulator serves the emulator on a free loopback port.
func (d *demo) startEmulator() error {
	d.dir = d.opts.Dir
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "xchat-demo-")
		if err != nil {
			return err
		}
		d.dir, d.tempDir = dir, true
	}
	local, err := emulator.Start(context.Background())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.local, d.base = local, local.URL
	return nil
}

func (d *demo) close() error {
	var errs []error
	for _, u := range d.users {
		if u.e != nil {
			errs = append(errs, u.e.Close())
		}
		if u.store != nil {
			errs = append(errs, u.store.Close())
		}
	}
	if d.local != nil {
		errs = append(errs, d.local.Close())
	}
	if d.tempDir {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	return errors.Join(errs...)
}

// newUser provisions an account on the emulator, creates its keystore and
// keys and registers them.
func (d *demo) newUser(ctx context.Context, name string) (*user, error) {
	pr, err := d.local.AddUser(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	u := &user{name: name, id: pr.ID}
	d.users = append(d.users, u)
	d.names[pr.ID] = name

	kopts := []keystore.Option{keystore.WithPassphrase([]byte("demo passphrase of " + name))}
	if d.opts.Argon2 != (keystore.Argon2Params{}) {
		kopts = append(kopts, keystore.WithArgon2Params(d.opts.Argon2))
	}
	u.store, err = boltstore.Open(filepath.Join(d.dir, name, "keystore.db"), kopts...)
	if err != nil {
		return nil, fmt.Errorf("demo: keystore of %s: %w", name, err)
	}
	if err := session.CreateAccount(ctx, u.store, u.id, nil); err != nil {
		return nil, err
	}
	client, err := api.New(api.WithBaseURL(d.base), api.WithBearerToken(pr.Token))
	if err != nil {
		return nil, err
	}
	u.e, err = session.Open(ctx, u.store, session.NewAPIServer(client), session.WithKeyChangeHandler(func(kc session.KeyChanged) {
		d.printf("!! %s sees that %s's keys CHANGED\n", name, d.name(kc.UserID))
	}))
	if err != nil {
		return nil, err
	}
	version, err := u.e.Register(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: register %s: %w", name, err)
	}
	fp, err := u.e.Fingerprint()
	if err != nil {
		return nil, err
	}
	d.printf("%-5s user %s: keys registered (version %s, fingerprint %s)\n", name, u.id, version, fp)
	return u, nil
}

func (d *demo) name(id string) string {
	if n, ok := d.names[id]; ok {
		return n
	}
	return id
}

// send sends m and prints it.
func (d *demo) send(ctx context.Context, from *user, to string, m session.Outgoing) (*session.Sent, error) {
	s, err := from.e.Send(ctx, to, m)
	if err != nil {
		return nil, fmt.Errorf("demo: %s sends: %w", from.name, err)
	}
	dest := to
	if session.IsGroup(s.ConversationID) {
		dest = "group"
	} else if n, ok := d.names[to]; ok {
		dest = n
	} else {
		dest = d.peerName(s.ConversationID, from.id)
	}
	kind := ""
	if m.ReplyTo != "" {
		kind = fmt.Sprintf(" (reply to #%s)", m.ReplyTo)
	}
	d.printf("%s → %s: %q%s (#%s, key version %s)\n", from.name, dest, m.Text, kind, s.SequenceID, s.KeyVersion)
	return s, nil
}

// peerName names the other participant of a one-to-one conversation.
func (d *demo) peerName(cid, self string) string {
	for _, p := range strings.Split(cid, ":") {
		if p != self {
			return d.name(p)
		}
	}
	return cid
}

// syncQuiet syncs without printing (the events are shown at the final sync).
func (d *demo) syncQuiet(ctx context.Context, u *user, cid string) error {
	if _, err := u.e.Sync(ctx, cid, nil); err != nil {
		return fmt.Errorf("demo: %s syncs %s: %w", u.name, cid, err)
	}
	return nil
}

// syncShow syncs and prints u's whole stored transcript of cid with
// verification marks.
func (d *demo) syncShow(ctx context.Context, u *user, cid string) error {
	res, err := u.e.Sync(ctx, cid, nil)
	if err != nil {
		return fmt.Errorf("demo: %s syncs %s: %w", u.name, cid, err)
	}
	hist, err := u.e.History(ctx, cid, "", 0)
	if err != nil {
		return err
	}
	label := "the 1:1 with " + d.peerName(cid, u.id)
	if session.IsGroup(cid) {
		label = "the group"
	}
	d.printf("%s synced %s (%d new events):\n", u.name, label, res.Events)
	for i := range hist {
		d.printf("  %s\n", d.line(&hist[i]))
	}
	for _, a := range res.Anomalies {
		d.printf("  !! transcript anomaly: %s\n", a)
	}
	if session.IsGroup(cid) {
		c, err := u.e.Conversation(ctx, cid)
		if err != nil {
			return err
		}
		d.printf("  roster (from signed group changes): %s\n", d.roster(c))
	}
	return nil
}

// roster describes how far a group's roster rests on signed changes.
func (d *demo) roster(c *session.Conversation) string {
	names := func(ids []string) string {
		if len(ids) == 0 {
			return "none confirmed"
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = d.name(id)
		}
		return strings.Join(out, ", ")
	}
	s := fmt.Sprintf("%s: members %s; admins %s", c.Roster, names(c.Members), names(c.Admins))
	if len(c.ClaimedAdmins) > 0 {
		s += "; claimed admins " + names(c.ClaimedAdmins)
	}
	if len(c.UnconfirmedMembers) > 0 {
		s += "; unconfirmed " + names(c.UnconfirmedMembers)
	}
	if c.RosterSince != "" {
		s += "; taken on trust before #" + c.RosterSince
	}
	return s
}

// line renders one entry and counts its verification.
func (d *demo) line(en *event.Entry) string {
	who := d.name(en.SenderID)
	if !en.Verified {
		d.failed++
		return fmt.Sprintf("%s #%s %-5s NOT VERIFIED (%s): %s", MarkFailed, en.SequenceID, who, en.Type, en.Error)
	}
	d.verified++
	var what string
	switch en.Type {
	case event.TypeMessage:
		what = fmt.Sprintf("%q", en.Text)
		if r := en.ReplyTo; r != nil {
			what = fmt.Sprintf("replying to #%s (quote %s): %s", r.SequenceID, r.Validation, what)
		}
		for _, a := range en.Attachments {
			if m := a.Media; m != nil {
				what += fmt.Sprintf(" [%s %s %dx%d]", m.Type, m.Filename, m.Width, m.Height)
			}
		}
	case event.TypeReactionAdd:
		what = fmt.Sprintf("reacted %s to #%s", en.Emoji, en.TargetSequenceID)
	case event.TypeEdit:
		what = fmt.Sprintf("edited #%s: %q", en.TargetSequenceID, en.Text)
	case event.TypeKeyChange:
		what = "distributed conversation key " + en.KeyVersion
	case event.TypeGroupChange:
		what = "group change"
		if g := en.Group; g != nil {
			names := make([]string, len(g.MemberIDs))
			for i, id := range g.MemberIDs {
				names[i] = d.name(id)
			}
			what = fmt.Sprintf("group %s: %s", strings.ReplaceAll(g.Kind.String(), "_", " "), strings.Join(names, ", "))
		}
	default:
		what = en.Type
	}
	return fmt.Sprintf("%s #%s %-5s %s", MarkVerified, en.SequenceID, who, what)
}

// compareSafetyNumbers has both parties compute their safety number, as
// they would compare it out of band, and marks each other verified.
func (d *demo) compareSafetyNumbers(ctx context.Context, a, b *user) error {
	an, err := a.e.SafetyNumber(ctx, b.id)
	if err != nil {
		return err
	}
	bn, err := b.e.SafetyNumber(ctx, a.id)
	if err != nil {
		return err
	}
	if an != bn {
		d.printf("%s safety numbers differ: %s vs %s\n", MarkFailed, an, bn)
		d.failed++
		return nil
	}
	if err := a.e.Verify(ctx, b.id, an); err != nil {
		return err
	}
	if err := b.e.Verify(ctx, a.id, bn); err != nil {
		return err
	}
	d.printf("%s alice and bob compared safety numbers out of band: %s\n", MarkVerified, an)
	return nil
}

// checkImage downloads and decrypts the image as u and compares it with
// the original.
func (d *demo) checkImage(ctx context.Context, u *user, gid, seq string, want []byte) error {
	hist, err := u.e.History(ctx, gid, "", 0)
	if err != nil {
		return err
	}
	for i := range hist {
		en := &hist[i]
		if en.SequenceID != seq {
			continue
		}
		for _, a := range en.Attachments {
			if a.Media == nil {
				continue
			}
			got, err := u.e.DownloadMedia(ctx, gid, a.Media, en.KeyVersion, 0)
			if err != nil {
				return fmt.Errorf("demo: %s downloads the image: %w", u.name, err)
			}
			if !bytes.Equal(got, want) {
				d.failed++
				d.printf("  %s %s decrypted the image but it differs from what carol sent\n", MarkFailed, u.name)
				return nil
			}
			d.verified++
			d.printf("  %s %s downloaded and decrypted mockup.png: identical to carol's (%d bytes)\n", MarkVerified, u.name, len(got))
			return nil
		}
	}
	d.failed++
	d.printf("  %s %s has no image #%s\n", MarkFailed, u.name, seq)
	return nil
}

// pngImage draws a small gradient PNG in memory.
func pngImage(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
