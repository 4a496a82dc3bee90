package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Undoing what a group change the walk fails had set of the group's
// details (see rejudgeLate). applyGroupChange sets them as each verified
// change is stored; once a late change fails one, they are read again
// from the changes that stand, in transcript order, as a fresh device
// served the same events sets them. This account's member adds sign them
// as the group's current details, so what a removed member (or a revoked
// admin) set above the change must not outlive the walk.

// groupSettings are the details of a group that group changes set: its
// title (the wire form and the key version it is sealed under), its
// avatar URL and its screen-capture blocking flag.
type groupSettings struct {
	titleCipher, titleVersion string
	avatar                    string
	screenCapture             *bool
}

// setsSettings reports whether a group change of kind may set the
// group's details (its title, avatar or screen-capture setting).
func setsSettings(kind event.GroupChangeKind) bool {
	switch kind {
	case event.GroupCreated, event.GroupTitleChanged, event.GroupAvatarChanged, event.GroupMembersAdded:
		return true
	}
	return false
}

// restoreSettings sets cid's title, avatar and screen-capture setting to
// those its verified group changes set last, in transcript order (none:
// no title, no avatar, no setting), after re-judging failed a change that
// set them: a title or avatar a removed member set above her removal is
// not the group's.
func (e *Engine) restoreSettings(ctx context.Context, tx keystore.Tx, cid string) error {
	s, err := lastSettings(ctx, tx, cid)
	if err != nil {
		return err
	}
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	m := loadMeta(c)
	m.Title, m.TitleCipher = "", s.titleCipher
	if s.titleCipher != "" {
		m.Title = e.decryptTitle(ctx, tx, cid, s.titleVersion, s.titleCipher)
	}
	m.AvatarURL, m.ScreenCaptureBlocking = s.avatar, s.screenCapture
	c.Meta = m.encode()
	c.UpdatedAt = e.now()
	return tx.PutConversation(ctx, c)
}

// setsDetails reports whether a verified group change of kind sets any of
// the group's details applyGroupChange keeps (title, avatar,
// screen-capture setting).
func setsDetails(kind event.GroupChangeKind) bool {
	switch kind {
	case event.GroupCreated, event.GroupMembersAdded, event.GroupTitleChanged, event.GroupAvatarChanged:
		return true
	}
	return false
}

// settingsBackfilled reports whether a group change stored at seq in cid
// lies below another stored group change: then what it sets of the
// group's details is not the group's now (a fresh device served the
// transcript in order shows what the changes above set), and they are read
// again in transcript order (restoreSettings). Without a complete change
// index any event stored above counts.
func settingsBackfilled(ctx context.Context, tx keystore.Tx, cid, seq string) (bool, error) {
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil {
		return false, err
	}
	if found && idx.Complete {
		return len(idx.Seqs) > 0 && decimal.Less(seq, idx.Seqs[len(idx.Seqs)-1]), nil
	}
	evs, err := tx.Events(ctx, cid, seq, 1)
	if err != nil {
		return false, fmt.Errorf("session: reading history: %w", err)
	}
	for i := range evs {
		evs[i].Body.Zero()
	}
	return len(evs) > 0, nil
}

// lastSettings reads cid's details from its stored, verified group
// changes, oldest first, as applyGroupChange sets them: those its complete
// change index lists, or else its whole history.
func lastSettings(ctx context.Context, tx keystore.Tx, cid string) (groupSettings, error) {
	var s groupSettings
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil {
		return s, err
	}
	if found && idx.Complete {
		for _, seq := range idx.Seqs {
			ev, err := eventAt(ctx, tx, cid, seq)
			if err != nil {
				return s, fmt.Errorf("session: reading history: %w", err)
			}
			if ev != nil {
				s.apply(cid, ev)
				ev.Body.Zero()
			}
		}
		return s, nil
	}
	after := ""
	for {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return s, fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			s.apply(cid, &evs[i])
			evs[i].Body.Zero()
		}
		if len(evs) < rejudgePage {
			return s, nil
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// apply applies what the stored event ev sets of the group's details,
// when it is a verified group change that sets them: a create its title
// (when present) and avatar, a title change its title, an avatar change
// its avatar, a member add its title (when present) and screen-capture
// setting (when present). The fields are read from the signed event as
// stored, the one its kind names.
func (s *groupSettings) apply(cid string, ev *keystore.StoredEvent) {
	if !ev.Verified {
		return
	}
	en := entryFromStored(cid, ev)
	if en.Group == nil || !setsSettings(en.Group.Kind) {
		return
	}
	me, err := wire.DecodeMessageEvent(ev.Raw)
	if err != nil || me.GetDetail().GetGroupChangeEvent().GetGroupChange() == nil {
		return
	}
	gc, version := me.GetDetail().GetGroupChangeEvent().GetGroupChange(), en.Group.KeyVersion
	switch {
	case en.Group.Kind == event.GroupCreated && gc.GroupCreate != nil:
		if signsField(en.Group, "Title") {
			s.title(gc.GroupCreate.GetTitle(), version, false)
		}
		if signsField(en.Group, "AvatarURL") {
			s.avatar = gc.GroupCreate.GetAvatarURL()
		}
	case en.Group.Kind == event.GroupTitleChanged && gc.GroupTitleChange != nil:
		s.title(gc.GroupTitleChange.GetCustomTitle(), version, true)
	case en.Group.Kind == event.GroupAvatarChanged && gc.GroupAvatarChange != nil:
		s.avatar = gc.GroupAvatarChange.GetCustomAvatarURL()
	case en.Group.Kind == event.GroupMembersAdded && gc.GroupMemberAdd != nil:
		if signsField(en.Group, "Title") {
			s.title(gc.GroupMemberAdd.GetCurrentTitle(), version, false)
		}
		if b := gc.GroupMemberAdd.ScreenCaptureBlockingEnabled; b != nil && signsField(en.Group, "ScreenCaptureBlocking") {
			v := *b
			s.screenCapture = &v
		}
	}
}

// signsField reports whether g's author signed its field name (one of
// event.GroupChange's): at some signature versions a field is carried but
// not signed (Unsigned), and the server's value is then never one of the
// group's details, which this account's member adds sign as current.
func signsField(g *event.GroupChange, name string) bool {
	return !slices.Contains(g.Unsigned, name)
}

// title sets the wire title and its key version: always, or only when
// present (not always).
func (s *groupSettings) title(cipher, version string, always bool) {
	if always || cipher != "" {
		s.titleCipher, s.titleVersion = cipher, version
	}
}
