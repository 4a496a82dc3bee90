package cli

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// TestStatusLine: on a terminal the stream's state is one line redrawn in
// place and taken off around printed events; elsewhere each change of
// connection is a line of its own.
func TestStatusLine(t *testing.T) {
	var tty bytes.Buffer
	s := newStatusLine(&tty, true)
	s.stream(api.StreamStatus{State: api.StreamConnected})
	s.stream(api.StreamStatus{State: api.StreamWaiting, Wait: 5 * time.Second, Err: errors.New("503\nService Unavailable")})
	if err := s.around(func() error { tty.WriteString("EVENT\n"); return nil }); err != nil {
		t.Fatal(err)
	}
	s.stream(api.StreamStatus{State: api.StreamWaiting}) // an immediate retry: nothing to show
	s.clear()
	want := "\r\033[Kstream: connected" +
		"\r\033[Kstream: reconnecting in 5s (503 Service Unavailable)" +
		"\r\033[KEVENT\n" +
		"\r\033[Kstream: reconnecting in 5s (503 Service Unavailable)" +
		"\r\033[K"
	if got := tty.String(); got != want {
		t.Errorf("terminal output %q\nwant %q", got, want)
	}

	var plain bytes.Buffer
	p := newStatusLine(&plain, false)
	p.stream(api.StreamStatus{State: api.StreamConnected})
	p.stream(api.StreamStatus{State: api.StreamDisconnected, Err: api.ErrStreamStalled})
	p.stream(api.StreamStatus{State: api.StreamConnected, Reconnect: true, Backfill: 1})
	_ = p.around(func() error { plain.WriteString("EVENT\n"); return nil })
	want = "stream: connected\nstream: disconnected: api: activity stream stalled\nstream: reconnected (backfill 1 min)\nEVENT\n"
	if plain.String() != want {
		t.Errorf("plain output %q\nwant %q", plain.String(), want)
	}
}
