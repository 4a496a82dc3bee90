package attacks

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

var lateBindEvictAttacks = []attack{
	{"unbound-creates-crowd-out-group-create-honest-changes-fail-for-good", func(w *world) (string, error) { return attackCreateUnboundCrowdedOut(w, 4) }},
	{"unbound-creates-stored-past-list-bind-outsider-create", func(w *world) (string, error) { return attackCreateUnboundCrowdedOut(w, 5) }},
}

// attackCreateUnboundCrowdedOut: the creates read unbound are remembered
// at most four a group. Mallory signs four group creates of her own (a
// create signs no conversation id), at key versions no key change pairs,
// and the server serves them below alice's create in bob's first sync,
// which also withholds alice's pair: alice's create found the list full,
// and once the second sync serves the pair (never the create again)
// nothing bound; the honest group changes read with no roster held
// failed for good, where a fresh device binds alice's create. Alice's
// title change, admin add and carol's message must end verified. With n
// at 5, one of mallory's creates is stored failed past the list too: the
// creates stored so must bind by their own pair only, and none of
// mallory's (never paired) may open or make her a member.
func attackCreateUnboundCrowdedOut(w *world, n int) (string, error) {
	return createUnboundCrowdedOut(w, n, false)
}

// createUnboundCrowdedOut is attackCreateUnboundCrowdedOut, bob's device
// syncing with no fn when withoutFn.
func createUnboundCrowdedOut(w *world, n int, withoutFn bool) (string, error) {
	t := w.t
	var forged []string
	mallory := ""
	_, o, mids, err := pairLateSceneWith(w, false, func(h *history) []*tevent.MessageEvent {
		var create *tevent.MessageEvent
		for _, it := range h.items {
			if groupChangeOf(it.me).GetGroupCreate() != nil && create == nil {
				create = it.me
			}
		}
		low := lowestSeq(h)
		mallory = h.mallory.id
		var out []*tevent.MessageEvent
		for i := 0; i < n; i++ {
			raw, err := wire.EncodeMessageEvent(create)
			if err != nil {
				t.Fatal(err)
			}
			c, err := wire.DecodeMessageEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			gc := groupChangeOf(c).GetGroupCreate()
			v := strconv.FormatInt(int64(1700000000000+i), 10)
			gc.ConversationKeyVersion = &v
			gc.MemberIds = append(gc.MemberIds, h.mallory.id)
			mid, sender, seq := fmt.Sprintf("0b7c1a52-4444-4c4c-8888-%012d", i), h.mallory.id, prevSeq(low, uint64(10*(n-i)))
			c.MessageID, c.SenderID, c.SequenceID, c.PreviousSequenceID = &mid, &sender, &seq, nil
			sv, _ := strconv.Atoi(create.GetMessageEventSignature().GetSignatureVersion())
			f := h.mallory.forger()
			p, err := crypto.GroupCreatePayload(sv, crypto.Header{MessageID: mid, SenderID: sender},
				crypto.GroupCreate{ConversationKeyVersion: v, MemberIDs: gc.MemberIds})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := p.Sign(f.Signing)
			if err != nil {
				t.Fatal(err)
			}
			c.MessageEventSignature = wire.Signature(sig, f.KeyVersion, sv)
			gc.Title, gc.AvatarURL, gc.IsLegacyGroupUpgrade = nil, nil, nil
			out = append(out, c)
			forged = append(forged, mid)
		}
		return out
	}, func(m *mutation) { m.withoutFn = withoutFn })
	if err != nil {
		return "", err
	}
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	}
	for _, mid := range forged {
		if o.verified[mid] {
			return "", errorf("mallory's create %s verified", mid)
		}
	}
	if slices.Contains(o.conv.Members, mallory) {
		return "", errorf("mallory is a member: %v", o.conv.Members)
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s read before the create was bound fails for good (%v)", mid, o.failed[mid])
		}
	}
	return fmt.Sprintf("alice's create, read past the four remembered, binds from its place, mallory's %d stay failed: the honest changes end verified (roster %s)", n, o.conv.Roster), nil
}
