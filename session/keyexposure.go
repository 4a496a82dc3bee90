package session

import (
	"context"
	"slices"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Rule 5 of group state: a key change's participant list is never
// membership, and a key wrapped to a non-member is a finding. The list is
// not signed (v6+ key changes sign the plaintext key, not whom it was
// wrapped to), and the outsider's wrapped copy is sealed to her key, so
// nobody else can tell whether it holds the real key: the server's word
// that it exists is taken as exposure. The key change is still adopted
// (its signature is good and history under it must decrypt), the outsider
// is reported (AnomalyKeyWrappedToNonMember) and stays outside, and
// ensureFreshKey makes a new key for the members before anything new is
// encrypted under the exposed one. A key this account distributed keeps
// the recipients it chose (commitKey): the server cannot wrap it to anyone
// else without holding it, so a padded list served back is reported but
// does not make that key stale. A key this account only adopted records
// the list as served (recordRecipients), outsiders included.

// outsiders returns the distinct users kc lists as participants who are
// not among members, in the order the list names them.
func outsiders(kc *event.KeyChange, members []string) []string {
	var out []string
	for _, p := range kc.Participants {
		if !slices.Contains(members, p.UserID) && !slices.Contains(out, p.UserID) {
			out = append(out, p.UserID)
		}
	}
	return out
}

// exposureAnomalies reports a verified key change of cid wrapped to users
// outside members: one AnomalyKeyWrappedToNonMember per outsider.
func exposureAnomalies(cid string, ev *event.Event, members []string) []event.Anomaly {
	kc := ev.KeyChange
	if kc == nil || !ev.Verified || ev.Err != nil {
		return nil
	}
	var out []event.Anomaly
	for _, u := range outsiders(kc, members) {
		out = append(out, event.Anomaly{Kind: event.AnomalyKeyWrappedToNonMember, ConversationID: cid, SequenceID: ev.SequenceID, Related: u})
	}
	return out
}

// screenPairExposure reports the verified key changes among evs of the
// one-to-one conversation cid that list anyone but its two users. A key
// change already stored was judged when it was first stored and is not
// reported again.
func screenPairExposure(ctx context.Context, r keystore.Tx, cid string, evs []*event.Event) ([]event.Anomaly, error) {
	a, b, _ := cutPair(cid)
	pair := []string{a, b}
	var out []event.Anomaly
	for _, ev := range evs {
		found := exposureAnomalies(cid, ev, pair)
		if len(found) == 0 {
			continue
		}
		if _, stored, err := storedVerdict(ctx, r, cid, ev); err != nil {
			return nil, err
		} else if stored {
			continue
		}
		out = append(out, found...)
	}
	return out, nil
}

// exposedKey reports whether the recipients recorded for the current key
// of cid (meta.KeyRecipients) name anyone outside members: the two users
// of a one-to-one conversation, or the signed roster of a group. Such a
// key is stale: new content must go under a new key made for members.
func exposedKey(cid string, recipients map[string]string, members []string) bool {
	if !IsGroup(cid) {
		a, b, _ := cutPair(cid)
		members = []string{a, b}
	}
	in := make(map[string]bool, len(members))
	for _, m := range members {
		in[m] = true
	}
	for u := range recipients {
		if !in[u] {
			return true
		}
	}
	return false
}

// exposures collects the exposure findings of one screening of a group's
// events. A member add and the key change made with it (same sender, the
// add signing the key's version) may be served in either order: when the
// key change comes first, the users the add brings in are not members yet
// where the key change sits. So a finding waits for the rest of the
// events screened with it, and an accepted, verified member add by the key
// change's sender, signing its version, settles the users it adds. A pair
// split across two screenings (two pages, or two pushes) is reported.
type exposures struct {
	cid     string
	pending []event.Anomaly
	makers  map[string]string // key change sequence id -> sender ‖ version
}

// judge records the findings of a verified key change ev against members,
// or, for an accepted member add, settles the findings it explains.
func (x *exposures) judge(ev *event.Event, members []string) {
	if gc := ev.GroupChange; gc != nil && gc.Kind == event.GroupMembersAdded && ev.Verified && ev.Err == nil {
		x.settle(ev.SenderID, gc.KeyVersion, gc.MemberIDs)
		return
	}
	found := exposureAnomalies(x.cid, ev, members)
	if len(found) == 0 {
		return
	}
	if x.makers == nil {
		x.makers = map[string]string{}
	}
	x.makers[ev.SequenceID] = ev.SenderID + "\x00" + ev.KeyChange.Version
	x.pending = append(x.pending, found...)
}

// settle drops the findings of sender's key change at version for the
// users added.
func (x *exposures) settle(sender, version string, added []string) {
	if version == "" {
		return
	}
	x.pending = slices.DeleteFunc(x.pending, func(a event.Anomaly) bool {
		return x.makers[a.SequenceID] == sender+"\x00"+version && slices.Contains(added, a.Related)
	})
}

// found returns the findings no member add settled.
func (x *exposures) found() []event.Anomaly { return x.pending }
