package session

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

// uploadCounter counts the media uploads started.
type uploadCounter struct {
	Server
	n int
}

func (u *uploadCounter) MediaUploadInitialize(ctx context.Context, req *api.ChatMediaUploadInitializeRequest) (*api.ChatMediaUploadInitializeResponse, error) {
	u.n++
	return u.Server.MediaUploadInitialize(ctx, req)
}

// TestMediaCarriesMessageFields: a media message is a message: its caption
// may carry entities, and it may reply, disappear and be silent (what the
// official SDK reads as meant: interop rows 27-30). Bob reads them all and
// the reply's preview validates.
func TestMediaCarriesMessageFields(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	ents := []event.Entity{{Start: 5, End: 12, Type: event.EntityHashtag}}
	orig := testutil.Must(alice.e.Send(ctx, bob.id, Outgoing{Text: "what #golang?", Entities: ents}))(t)
	cid := orig.ConversationID
	testutil.Must(bob.e.Sync(ctx, cid, nil))(t)

	caption := "this @jack"
	data := []byte("a picture")
	snt, err := bob.e.Send(ctx, cid, Outgoing{
		Text: caption, Entities: []event.Entity{{Start: 5, End: 10, Type: event.EntityMention}},
		ReplyTo: orig.SequenceID, TTL: time.Minute, Silent: true,
		Media: &Media{Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "p.png"},
	})
	if err != nil {
		t.Fatalf("media reply: %v", err)
	}
	res := testutil.Must(alice.e.Sync(ctx, cid, nil))(t)
	en := findEntry(t, res.Entries, snt.SequenceID)
	if !en.Verified || en.Text != caption || en.TTL != time.Minute || len(en.Attachments) != 1 || en.Attachments[0].Media == nil {
		t.Fatalf("entry %+v", en)
	}
	if !slices.Equal(en.Entities, []event.Entity{{Start: 5, End: 10, Type: event.EntityMention}}) {
		t.Errorf("caption entities %+v", en.Entities)
	}
	if r := en.ReplyTo; r == nil || r.SequenceID != orig.SequenceID || r.Text != "what #golang?" || r.Validation != "valid" {
		t.Errorf("reply %+v", en.ReplyTo)
	}
	got := testutil.Must(alice.e.DownloadMedia(ctx, cid, en.Attachments[0].Media, en.KeyVersion, 0))(t)
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded %q, want %q", got, data)
	}
}

// TestMediaMessageRefusedBeforeUpload: a media message whose message fields
// cannot be sent fails with xchat.ErrInvalidArgument before any of the file
// is uploaded.
func TestMediaMessageRefusedBeforeUpload(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	uc := &uploadCounter{}
	alice := n.userWith("alice", func(s Server) Server { uc.Server = s; return uc })
	bob := n.user("bob")
	first := testutil.Must(alice.e.SendText(ctx, bob.id, "hello"))(t)
	cid := first.ConversationID
	media := func() *Media { return &Media{Data: strings.NewReader("x"), Size: 1, Filename: "x.bin"} }
	for name, m := range map[string]Outgoing{
		"entity past the caption": {Text: "ab", Entities: []event.Entity{{Start: 0, End: 3}}},
		"caption not UTF-8":       {Text: "\xff"},
		"negative ttl":            {TTL: -time.Second},
		"reply to nothing stored": {ReplyTo: "999999"},
		"reply to no sequence id": {ReplyTo: "x"},
	} {
		m.Media = media()
		if _, err := alice.e.Send(ctx, cid, m); !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Errorf("%s: %v, want xchat.ErrInvalidArgument", name, err)
		}
	}
	if uc.n != 0 {
		t.Errorf("refused media sends started %d uploads", uc.n)
	}
	if _, err := alice.e.Send(ctx, cid, Outgoing{Media: media(), ReplyTo: first.SequenceID}); err != nil || uc.n != 1 {
		t.Fatalf("media reply: %v (%d uploads)", err, uc.n)
	}
}
