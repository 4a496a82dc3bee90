package bot_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/session"
)

// TestDirectCommands: in a one-to-one conversation over the Activity
// stream, "!echo" and its alias answer with a reply quoting the command,
// "!help" lists the commands, an unknown command goes to
// OnCommandNotFound and plain text to OnMessage; every handler sees the
// signed sender.
func TestDirectCommands(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	rec := newRecord()
	b := echoBot(echobot, rec)
	b.Command("help", func(c *bot.Context) error {
		rec.add(c)
		_, err := c.Reply(c.Bot().Help())
		return err
	}).Describe("lists the commands")
	b.OnCommandNotFound(func(c *bot.Context) error {
		rec.add(c)
		_, err := c.Send("no such command: " + c.Command())
		return err
	})
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)

	sent := alice.send(ctx, echobot.id, "!echo hi there")
	alice.send(ctx, echobot.id, "!say  two   words ")
	alice.send(ctx, echobot.id, "just chatting")
	alice.send(ctx, echobot.id, "!nope x")
	alice.send(ctx, echobot.id, "!help")
	rec.waitFor(t, ctx, "five calls", func() bool { return len(rec.calls) == 5 })

	got := alice.waitMessages(ctx, sent.ConversationID, echobot.id, 4)
	want := []string{"hi there", "two   words", "no such command: nope",
		"Commands:\n!echo TEXT — repeats TEXT (also !say)\n!help — lists the commands"}
	if !slices.Equal(got, want) {
		t.Fatalf("alice reads %q, want %q", got, want)
	}
	calls := rec.snapshot()
	kinds := []bot.Kind{bot.KindCommand, bot.KindCommand, bot.KindMessage, bot.KindCommand, bot.KindCommand}
	cmds := []string{"echo", "say", "", "nope", "help"}
	for i, c := range calls {
		if c.kind != kinds[i] || c.command != cmds[i] || c.sender != alice.id || c.conv != sent.ConversationID || c.isGroup {
			t.Errorf("call %d: %+v, want kind %v command %q from %s", i, c, kinds[i], cmds[i], alice.id)
		}
	}
	if !slices.Equal(calls[1].args, []string{"two", "words"}) {
		t.Errorf("args %q", calls[1].args)
	}
	// The echo is a reply quoting the command, whose signed source alice
	// can check.
	msgs := alice.messages(ctx, sent.ConversationID, echobot.id)
	if rt := msgs[0].ReplyTo; rt == nil || rt.MessageID != sent.MessageID || rt.Validation != "valid" {
		t.Fatalf("the echo quotes %+v, want message %s, valid", rt, sent.MessageID)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Handled != 5 || s.Failed != 0 || s.Commands != 3 || s.NotFound != 1 || s.Unverified != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestGroupAddressing: in a group, "!echo" and "@bot echo" are commands
// by default and other text is a message; a MentionOnly bot takes only
// the mentioned form, so a prefix shared with another bot does not wake
// it; a mention of someone else is not for the bot.
func TestGroupAddressing(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, carol, echobot, quietbot := n.user("alice"), n.user("carol"), n.user("echobot"), n.user("quietbot")
	g, err := alice.e.CreateGroup(ctx, session.GroupOptions{Members: []string{carol.id, echobot.id, quietbot.id}})
	if err != nil {
		t.Fatal(err)
	}
	rec, qrec := newRecord(), newRecord()
	r1 := start(ctx, echoBot(echobot, rec), n.stream(echobot))
	r2 := start(ctx, echoBot(quietbot, qrec, bot.WithGroupAddressing(bot.MentionOnly)), n.stream(quietbot))
	r1.waitReady(t, ctx)
	r2.waitReady(t, ctx)

	alice.send(ctx, g, "!echo one")
	carol.send(ctx, g, "@echobot echo two")
	alice.send(ctx, g, "@quietbot: !echo three")
	carol.send(ctx, g, "@echobotx echo not for the bot")
	alice.send(ctx, g, "@QuietBot echo four")
	// The bots also see each other's answers (as plain messages): count
	// the humans' only.
	humans := func(cs []call) (out []call) {
		for _, c := range cs {
			if c.sender == alice.id || c.sender == carol.id {
				out = append(out, c)
			}
		}
		return out
	}
	rec.waitFor(t, ctx, "echobot's five calls", func() bool { return len(humans(rec.calls)) == 5 })
	qrec.waitFor(t, ctx, "quietbot's five calls", func() bool { return len(humans(qrec.calls)) == 5 })

	summarise := func(cs []call) (out []string) {
		for _, c := range humans(cs) {
			out = append(out, c.kind.String()+":"+c.command+":"+strings.Join(c.args, " "))
		}
		return out
	}
	wantEcho := []string{"command:echo:one", "command:echo:two", "message::", "message::", "message::"}
	wantQuiet := []string{"message::", "message::", "command:echo:three", "message::", "command:echo:four"}
	if got := summarise(rec.snapshot()); !slices.Equal(got, wantEcho) {
		t.Errorf("echobot: %q, want %q", got, wantEcho)
	}
	if got := summarise(qrec.snapshot()); !slices.Equal(got, wantQuiet) {
		t.Errorf("quietbot (mention only): %q, want %q", got, wantQuiet)
	}
	for _, c := range qrec.snapshot() {
		if !c.isGroup || c.conv != g {
			t.Errorf("call %+v not in group %s", c, g)
		}
	}
	if got := joined(carol.waitMessages(ctx, g, echobot.id, 2)); got != "one|two" {
		t.Errorf("echobot answered %q", got)
	}
	if got := joined(carol.waitMessages(ctx, g, quietbot.id, 2)); got != "three|four" {
		t.Errorf("quietbot answered %q", got)
	}
	if err := errors.Join(r1.stop(), r2.stop()); err != nil {
		t.Fatal(err)
	}
}
