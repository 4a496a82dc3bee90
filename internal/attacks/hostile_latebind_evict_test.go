package attacks

import (
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

var lateBindEvictAttacks = []attack{
	{"unbound-creates-crowd-out-group-create-honest-changes-fail-for-good", attackCreateUnboundCrowdedOut},
}

// attackCreateUnboundCrowdedOut: the creates read unbound are remembered
// at most four a group. Mallory signs four group creates of her own (a
// create signs no conversation id), at key versions no key change pairs,
// and the server serves them below alice's create in bob's first sync,
// which also withholds alice's pair: alice's create found the list full,
// and once the second sync serves the pair (never the create again)
// nothing bound; the honest group changes read with no roster held
// failed for good, where a fresh device binds alice's create. Alice's
// title change, admin add and carol's message must end verified.
func attackCreateUnboundCrowdedOut(w *world) (string, error) {
	t := w.t
	_, o, mids, err := pairLateScene(w, false, func(h *history) []*tevent.MessageEvent {
		var create *tevent.MessageEvent
		for _, it := range h.items {
			if groupChangeOf(it.me).GetGroupCreate() != nil && create == nil {
				create = it.me
			}
		}
		low := lowestSeq(h)
		var out []*tevent.MessageEvent
		for i := 0; i < 4; i++ {
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
			mid, sender, seq := fmt.Sprintf("0b7c1a52-4444-4c4c-8888-%012d", i), h.mallory.id, prevSeq(low, uint64(10*(4-i)))
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
		}
		return out
	})
	if err != nil {
		return "", err
	}
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s read before the create was bound fails for good (%v)", mid, o.failed[mid])
		}
	}
	return fmt.Sprintf("alice's create, read past the four remembered, binds from its place: the honest changes end verified (roster %s)", o.conv.Roster), nil
}
