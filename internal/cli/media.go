package cli

import (
	"context"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig of attachments
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

func (a *app) sendFile(ctx context.Context, e *session.Engine, cid, path, caption string) (*session.Sent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("send: %s is not a regular file", path)
	}
	m := session.Media{Filename: filepath.Base(path), Size: fi.Size(), Type: event.MediaTypeOf(path)}
	if cfg, _, err := image.DecodeConfig(f); err == nil {
		m.Width, m.Height = int64(cfg.Width), int64(cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var r io.Reader = f
	if a.env.StderrIsTerminal {
		p := newProgress(a.env.Stderr, m.Filename, fi.Size())
		defer p.done()
		r = io.TeeReader(f, p)
	}
	m.Data = r
	return e.Send(ctx, cid, session.Outgoing{Text: caption, Media: &m})
}

// progress draws an upload progress bar on a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	total int64
	n     int64
	last  time.Time
}

func newProgress(w io.Writer, name string, total int64) *progress {
	p := &progress{w: w, name: name, total: total}
	p.draw()
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(len(b))
	if time.Since(p.last) > 100*time.Millisecond || p.n >= p.total {
		p.drawLocked()
	}
	return len(b), nil
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
}

func (p *progress) drawLocked() {
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	if frac > 1 {
		frac = 1
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\rencrypting and uploading %s [%s%s] %3.0f%%", truncate(p.name, 24),
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w)
}
