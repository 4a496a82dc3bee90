package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/bot"
)

// TestOptionsFailClosed: an option given a value it does not accept makes
// Run refuse to start with ErrConfig naming the option, instead of being
// ignored.
func TestOptionsFailClosed(t *testing.T) {
	n := newNet(t)
	a := n.user("optbot")
	src := n.stream(a)
	// A context already ended: the configuration is checked before
	// anything else, and a bot that did start returns at once.
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	for name, opt := range map[string]bot.Option{
		"WithConcurrency":    bot.WithConcurrency(0),
		"WithLogger":         bot.WithLogger(nil),
		"WithClock":          bot.WithClock(nil),
		"WithDrain":          bot.WithDrain(-1),
		"WithHandlerTimeout": bot.WithHandlerTimeout(-1),
		"WithMaxHold":        bot.WithMaxHold(0),
		"WithMaxMediaBytes":  bot.WithMaxMediaBytes(-5),
	} {
		b := bot.New(a.e, bot.WithLogger(quiet()), opt)
		err := b.Run(ctx, src)
		if !errors.Is(err, bot.ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s with a bad value: Run = %v, want ErrConfig naming the option", name, err)
		}
		if b.Running() {
			t.Errorf("%s: the bot runs", name)
		}
	}
}
