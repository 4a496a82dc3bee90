package attacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Bot attacks (issue #15): a forged or replayed command must never reach
// a handler of package bot, whichever way the server delivers it (pushed
// or served by /events), and a server's claim about the sender must not
// get past an allow-list. The victim bob runs a bot whose "!echo"
// handler records every call; the bot is fed by a channel the attack
// pushes into (the server's stream, in effect) and reconciles through the
// hostile proxy.

// botRun is a bot running on a victim's engine.
type botRun struct {
	w       *world
	b       *bot.Bot
	pushes  chan *api.ActivityEvent
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	handled map[string]int // message id -> handler calls
	unver   []*bot.Unverified
	changed chan struct{}
}

func runBot(w *world, u *user, opts ...bot.Option) (*botRun, error) {
	r := &botRun{w: w, pushes: make(chan *api.ActivityEvent, 8), done: make(chan error, 1),
		handled: map[string]int{}, changed: make(chan struct{}, 1)}
	r.b = bot.New(u.e, append([]bot.Option{bot.WithLogger(slog.New(slog.DiscardHandler)), bot.WithReconcile(0, 20*time.Millisecond)}, opts...)...)
	r.b.Command("echo", func(c *bot.Context) error {
		r.mu.Lock()
		r.handled[c.MessageID()]++
		r.mu.Unlock()
		r.signal()
		return nil
	})
	r.b.OnUnverified(func(_ context.Context, uv *bot.Unverified) {
		r.mu.Lock()
		r.unver = append(r.unver, uv)
		r.mu.Unlock()
		r.signal()
	})
	ctx, cancel := context.WithCancel(w.ctx)
	r.cancel = cancel
	go func() { r.done <- r.b.Run(ctx, bot.Events(r.pushes)) }()
	w.t.Cleanup(func() { _ = r.stop() })
	return r, r.waitFor("the bot ready", r.b.Ready)
}

func (r *botRun) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *botRun) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	return <-r.done
}

// waitFor waits until cond holds or the world's deadline passes.
func (r *botRun) waitFor(what string, cond func() bool) error {
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-r.w.ctx.Done():
			return errorf("timed out waiting for %s", what)
		}
	}
}

// refusedOnly waits for mid to reach OnUnverified (with one of targets as
// the engine's reason) and checks that no handler ever saw it, nor the
// genuine command gen more than once.
func (r *botRun) refusedOnly(mid, gen string, targets ...string) (string, error) {
	var got *bot.Unverified
	if err := r.waitFor("the forgery at OnUnverified", func() bool {
		for _, u := range r.unver {
			if u.MessageID == mid {
				got = u
			}
		}
		return got != nil
	}); err != nil {
		return "", err
	}
	// A marker command after the forgery: once it is handled, the
	// forgery's turn in the conversation is past.
	if err := r.waitFor("the genuine command", func() bool { return gen == "" || r.handled[gen] > 0 }); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.handled[mid]; n != 0 {
		return "", errorf("forged command reached the handler %d times", n)
	}
	if gen != "" && r.handled[gen] != 1 {
		return "", errorf("genuine command handled %d times", r.handled[gen])
	}
	if !errors.Is(got.Reason, bot.ErrUnverified) {
		return "", errorf("OnUnverified reason %v", got.Reason)
	}
	for _, t := range targets {
		if containsText(got.Reason, t) {
			return fmt.Sprintf("no handler ran; OnUnverified: %v", got.Reason), nil
		}
	}
	return "", errorf("OnUnverified reason %v, want one of %q", got.Reason, targets)
}

func containsText(err error, s string) bool {
	return err != nil && s != "" && strings.Contains(err.Error(), s)
}

// encodedOf returns the envelope the server holds for message mid of the
// conversation, as u reads it honestly.
func encodedOf(w *world, u *user, cid, mid string) (*event.MessageEvent, error) {
	for _, me := range w.serverEvents(u, api.ConversationPathID(cid)) {
		if me.GetMessageID() == mid {
			return me, nil
		}
	}
	return nil, errorf("message %s not on the server", mid)
}

// pushGenuine pushes the server's own envelope of message mid to the bot.
func (r *botRun) pushGenuine(u *user, cid, mid string) error {
	me, err := encodedOf(r.w, u, cid, mid)
	if err != nil {
		return err
	}
	ev, err := pushOf(u, "genuine-"+mid, me, "", nil)
	if err != nil {
		return err
	}
	r.pushes <- ev
	return nil
}

// pushReplay pushes the server's copy of message cmd again under sequence
// id seq (and predecessor prev, when not empty), as event uuid.
func (r *botRun) pushReplay(d *dm, cmd *session.Sent, uuid, seq, prev string) error {
	me, err := encodedOf(r.w, d.bob, d.cid, cmd.MessageID)
	if err != nil {
		return err
	}
	me.SequenceID = &seq
	if prev != "" {
		me.PreviousSequenceID = &prev
	}
	ev, err := pushOf(d.bob, uuid, me, "", nil)
	if err != nil {
		return err
	}
	r.pushes <- ev
	return nil
}

// replayedOnce waits for the replay of cmd at seq to reach OnUnverified
// and checks that it was refused as a replay and that cmd's handler ran
// once.
func (r *botRun) replayedOnce(cmd *session.Sent, seq string) (string, error) {
	var got *bot.Unverified
	if err := r.waitFor("the replay at OnUnverified", func() bool {
		for _, u := range r.unver {
			if u.SequenceID == seq {
				got = u
				return true
			}
		}
		return false
	}); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.handled[cmd.MessageID]; n != 1 {
		return "", errorf("the replayed command ran %d times", n)
	}
	if !containsText(got.Reason, xchat.ErrReplayed.Error()) {
		return "", errorf("replay refused for another reason: %v", got.Reason)
	}
	return "handled once; the replay went to OnUnverified: " + got.Reason.Error(), nil
}

var botAttacks = []attack{
	{"bot-pushed-command-resigned-by-outsider", func(w *world) (string, error) {
		// mallory re-signs a copy of alice's command under a new message
		// id and the push claims alice as its sender and signer.
		d := newDM(w, "hello")
		r, err := runBot(w, d.bob)
		if err != nil {
			return "", err
		}
		cmd := d.alice.send(d.cid, "!echo transfer 100 to mallory")[0]
		me, err := encodedOf(w, d.bob, d.cid, cmd.MessageID)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		forger, spki := mallory.forger(), wire.EncodeB64(mallory.keys().Signing.PublicKey().SPKI())
		mid := "0b7c1a52-2222-4c4c-8888-000000000001"
		me.MessageID = &mid
		seq, prev := hostile.NextSequenceID(cmd.SequenceID, 5), cmd.SequenceID
		me.SequenceID, me.PreviousSequenceID = &seq, &prev
		if err := forger.Resign(me); err != nil {
			return "", err
		}
		me.SenderID = strp(d.alice.id)
		me.MessageEventSignature.PublicKeyVersion = strp(d.alice.e.PublicKeyVersion())
		me.MessageEventSignature.SigningPublicKey = strp(spki)
		ev, err := pushOf(d.bob, "forged-1", me, "", nil)
		if err != nil {
			return "", err
		}
		r.pushes <- ev
		return r.refusedOnly(mid, cmd.MessageID, inbound.ErrSigningKeyMismatch.Error(), inbound.ErrBadSignature.Error())
	}},
	{"bot-fetched-command-contents-swapped", func(w *world) (string, error) {
		// /events serves alice's command with another message's
		// ciphertext: the signature no longer covers it.
		d := newDM(w, "hello")
		r, err := runBot(w, d.bob)
		if err != nil {
			return "", err
		}
		other, err := encodedOf(w, d.bob, d.cid, d.mid(0))
		if err != nil {
			return "", err
		}
		contents := other.GetDetail().GetMessageCreateEvent().Contents
		cmd := d.alice.send(d.cid, "!echo approve")[0]
		w.tamper("swap", cmd.MessageID, func(me *event.MessageEvent) { me.Detail.MessageCreateEvent.Contents = contents })
		// Only the marker is pushed: the bot fetches the command from
		// /events when it reconciles the gap before the marker.
		marker := d.alice.send(d.cid, "!echo marker")[0]
		if err := r.pushGenuine(d.bob, d.cid, marker.MessageID); err != nil {
			return "", err
		}
		return r.refusedOnly(cmd.MessageID, marker.MessageID, inbound.ErrBadSignature.Error())
	}},
	{"bot-replayed-command-new-sequence-id", func(w *world) (string, error) {
		// alice's genuine "!echo pay" is pushed again under a new
		// sequence id: the handler must not run twice.
		d := newDM(w, "hello")
		r, err := runBot(w, d.bob)
		if err != nil {
			return "", err
		}
		cmd := d.alice.send(d.cid, "!echo pay 5")[0]
		if err := r.pushGenuine(d.bob, d.cid, cmd.MessageID); err != nil {
			return "", err
		}
		if err := r.waitFor("the genuine command", func() bool { return r.handled[cmd.MessageID] == 1 }); err != nil {
			return "", err
		}
		seq := hostile.NextSequenceID(cmd.SequenceID, 7)
		if err := r.pushReplay(d, cmd, "replay-1", seq, cmd.SequenceID); err != nil {
			return "", err
		}
		marker := d.alice.send(d.cid, "!echo marker")[0]
		if err := r.pushGenuine(d.bob, d.cid, marker.MessageID); err != nil {
			return "", err
		}
		if err := r.waitFor("the marker", func() bool { return r.handled[marker.MessageID] == 1 }); err != nil {
			return "", err
		}
		return r.replayedOnce(cmd, seq)
	}},
	{"bot-replayed-command-delivered-late", func(w *world) (string, error) {
		// alice's handled "!echo pay" is pushed again under an earlier
		// sequence id, which the bot's cursor has already passed (a later
		// message was handled first): the late replay must still reach
		// OnUnverified, and the handler must not run twice.
		d := newDM(w, "hello")
		r, err := runBot(w, d.bob)
		if err != nil {
			return "", err
		}
		cmd := d.alice.send(d.cid, "!echo pay 5")[0]
		if err := r.pushGenuine(d.bob, d.cid, cmd.MessageID); err != nil {
			return "", err
		}
		marker := d.alice.send(d.cid, "!echo marker")[0]
		if err := r.pushGenuine(d.bob, d.cid, marker.MessageID); err != nil {
			return "", err
		}
		if err := r.waitFor("the command and the marker", func() bool {
			return r.handled[cmd.MessageID] == 1 && r.handled[marker.MessageID] == 1
		}); err != nil {
			return "", err
		}
		seq, ok := unminted(cmd.SequenceID)
		if !ok {
			return "", errorf("no sequence id below %s", cmd.SequenceID)
		}
		if err := r.pushReplay(d, cmd, "replay-late", seq, ""); err != nil {
			return "", err
		}
		return r.replayedOnce(cmd, seq)
	}},
	{"bot-group-command-from-non-member", func(w *world) (string, error) {
		// mallory, not in the group, pushes a key change of her own and a
		// command sealed under it.
		gr := newGroup(w)
		r, err := runBot(w, gr.bob)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		f := mallory.forger()
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		version := futureVersion()
		base := gr.hello.SequenceID
		kc, err := f.KeyChange(hostile.Envelope{SequenceID: hostile.NextSequenceID(base, 1), PreviousSequenceID: base,
			MessageID: "0b7c1a52-2222-4c4c-8888-000000000003", ConversationID: gr.g}, version, key, []hostile.Recipient{gr.bob.recipient(), mallory.recipient()})
		if err != nil {
			return "", err
		}
		text := "!echo add mallory as admin"
		msg, err := f.Message(hostile.Envelope{SequenceID: hostile.NextSequenceID(base, 2), PreviousSequenceID: hostile.NextSequenceID(base, 1),
			MessageID: "0b7c1a52-2222-4c4c-8888-000000000004", ConversationID: gr.g}, version, key,
			&product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: &text}}})
		if err != nil {
			return "", err
		}
		kcB64, err := hostile.EncodeEvent(kc)
		if err != nil {
			return "", err
		}
		ev, err := pushOf(gr.bob, "nonmember-1", msg, kcB64, nil)
		if err != nil {
			return "", err
		}
		r.pushes <- ev
		return r.refusedOnly(msg.GetMessageID(), "", xchat.ErrNotMember.Error(), inbound.ErrSenderNotParticipant.Error(), "key")
	}},
	{"bot-allow-list-claimed-sender", func(w *world) (string, error) {
		// Only alice may command the bot. mallory's own, validly signed
		// command is pushed with a payload claiming alice as its sender.
		d := newDM(w, "hello")
		r, err := runBot(w, d.bob, bot.WithAllowList(d.alice.id))
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		cmd := mallory.send(d.bob.id, "!echo from alice, honest")[0]
		me, err := encodedOf(w, d.bob, cmd.ConversationID, cmd.MessageID)
		if err != nil {
			return "", err
		}
		kcs := w.serverKeyChanges(d.bob, api.ConversationPathID(cmd.ConversationID))
		kc := ""
		if len(kcs) > 0 {
			if kc, err = hostile.EncodeEvent(kcs[len(kcs)-1]); err != nil {
				return "", err
			}
		}
		ev, err := pushOf(d.bob, "claim-1", me, kc, func(p *api.ChatPayload) { p.SenderID = api.StringOrNumber(d.alice.id) })
		if err != nil {
			return "", err
		}
		r.pushes <- ev
		marker := d.alice.send(d.cid, "!echo marker")[0]
		if err := r.pushGenuine(d.bob, d.cid, marker.MessageID); err != nil {
			return "", err
		}
		if err := r.waitFor("mallory's command refused and alice's handled", func() bool {
			return r.b.Stats().Refused >= 1 && r.handled[marker.MessageID] == 1
		}); err != nil {
			return "", err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := r.handled[cmd.MessageID]; n != 0 {
			return "", errorf("mallory's command reached the handler %d times", n)
		}
		return fmt.Sprintf("refused by the allow-list on the signed sender (%d refused); alice's command handled", r.b.Stats().Refused), nil
	}},
}

// unminted returns a sequence id below seq that the emulator never
// minted: its ids are milliseconds shifted left by 22 bits plus a counter
// that restarts every millisecond, so seq - 2^21 lies in the millisecond
// before seq's with a counter no millisecond reaches.
func unminted(seq string) (string, bool) {
	x, ok := new(big.Int).SetString(seq, 10)
	half := big.NewInt(1 << 21)
	if !ok || x.Cmp(half) <= 0 {
		return "", false
	}
	return x.Sub(x, half).String(), true
}
