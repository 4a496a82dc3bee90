package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// A group's roster is a state machine advanced only by verified, authorised
// group changes, in the order the engine processes them (ascending sequence
// id within a sync). What XChat signs decides what it can hold:
//
//   - A GroupCreate signs the member ids but not the conversation id nor the
//     admin ids. It is bound to its group by its pair: the official SDK and
//     this engine emit it together with a v6+ key change by the same sender
//     at the same key version, and that key change signs the conversation
//     id. A create is accepted for group G only when G holds that verified
//     key change, and at most one create per group. Residual risk: two
//     groups created by the same account within the same millisecond share
//     a key version, so one's create could be bound to the other.
//   - Only the creator's authority is confirmed at creation; the other
//     admins the create lists are claimed until a signed change by a
//     confirmed admin names them.
//   - A GroupMemberAdd signs new ‖ current members ‖ current admins as one
//     list. It is read against the roster held (see splitMemberAdd): the
//     current part must equal the members held and the admin part the
//     admins held, whatever split the (unsigned) event claims.
//   - Removals are final until a signed re-add. Key-change participant lists,
//     the server's listing and every other unsigned list are never
//     membership.
//   - Sequence ids are not signed, and a removal signs no key version, so
//     nothing signed orders an admin's add of someone and her later
//     removal of them: the server can serve the add after the removal,
//     which then names a non-member, and the add would re-admit. A removal
//     naming a non-member (honestly, only two admins removing the same
//     member at once) is therefore a tombstone: it changes no membership,
//     is reported (AnomalyRosterDivergence), and every later member add of
//     the ids it names is refused (xchat.ErrRosterDivergence): exclusion on
//     doubt. So is every id (this account's aside) a removal read before
//     any roster names: no roster starts from an add naming one, and a
//     create read after it leaves them out. A removal of an actual member
//     leaves no tombstone, so an honest remove and re-add still re-admits.
//   - An account that never sees the group's create (it joined later, or the
//     create could not be bound) starts from the first signed member add
//     that names it: trust on first use, kept visible as RosterUnconfirmed.

// RosterState says how far a group's roster rests on signed group changes.
// Its value is its name ("unknown", "unconfirmed" or "confirmed").
type RosterState string

const (
	// RosterUnknown: no signed group change establishes the roster (the
	// server withheld them, or the group's create could not be bound to
	// the group). Messages a sync reads verify by signature only (pushed
	// events are held back for the sync: DeliveryRejected), and the
	// engine refuses to wrap a key to the group (xchat.ErrRosterUnknown).
	RosterUnknown RosterState = "unknown"
	// RosterUnconfirmed: the roster follows signed group changes, but part
	// of it rests on trust on first use: it starts from a member add after
	// the group's creation (Conversation.RosterSince), or some admin's
	// authority rests on unsigned data (Conversation.ClaimedAdmins) and
	// the members such an admin added are unconfirmed
	// (Conversation.UnconfirmedMembers). Under TrustStrict no key is
	// wrapped to an unconfirmed member (xchat.ErrRosterUnconfirmed).
	RosterUnconfirmed RosterState = "unconfirmed"
	// RosterConfirmed: every member and admin follows from the group's
	// bound create through signed changes by confirmed admins (always the
	// case for a one-to-one conversation, whose id fixes its members).
	RosterConfirmed RosterState = "confirmed"
)

// Roster bases: what the roster held starts from.
const (
	baseCreate = "create" // the group's bound create, or this account's own CreateGroup
	baseJoin   = "join"   // the first signed member add naming this account
)

// maxRosterIDs bounds the ids one group change may name (all its lists
// together). X caps groups at a few hundred members (the emulator at 256);
// ten thousand leaves room for any real group while keeping the list
// checks cheap on hostile input.
const maxRosterIDs = 10000

// maxGroupSettingBytes bounds a group change's title (as signed: sealed
// and base64, or plaintext) and avatar URL. They are kept in the group's
// record, which every listing of conversations loads; X publishes no limit
// (its clients show names of some dozens of characters), and 4 KiB (a
// title of about 3,000 bytes once sealed) leaves room for any real one.
const maxGroupSettingBytes = 4096

// rosterRec is a group's roster as stored (sealed) under rosterKey.
type rosterRec struct {
	Base    string   `json:"base,omitempty"`
	Members []string `json:"members,omitempty"`
	// Admins are confirmed admins; Claimed those whose authority rests on
	// unsigned data or on an unconfirmed admin.
	Admins  []string `json:"admins,omitempty"`
	Claimed []string `json:"claimed,omitempty"`
	// Unconfirmed are members whose place rests on trust on first use.
	Unconfirmed []string `json:"unconfirmed,omitempty"`
	// Seq is the sequence id of the last change applied; Since that of the
	// member add a join-based roster starts from.
	Seq   string `json:"seq,omitempty"`
	Since string `json:"since,omitempty"`
	// Creator and CreateMID identify the accepted create.
	Creator   string `json:"creator,omitempty"`
	CreateMID string `json:"create_mid,omitempty"`
	// Pending are this account's own member adds, applied on top of the
	// roster (for wrapping) until the server serves them back.
	Pending []pendingAdd `json:"pending,omitempty"`
	// Removed are the ids a removal named while they were no members, or
	// before any roster was held (its tombstones): no later member add
	// may admit them (see stepRemove). Records stored before it hold none.
	Removed []string `json:"removed,omitempty"`
}

// pendingAdd is one of this account's member adds not yet read back.
type pendingAdd struct {
	MID   string   `json:"mid"`
	Added []string `json:"added"`
}

func rosterKey(cid string) string { return "session/group/" + cid }

// createIndexKey records in which group a create (by message id) was
// accepted, to recognise the same create replayed into another group.
func createIndexKey(mid string) string {
	h := sha256.Sum256([]byte(mid))
	return "session/group-create/" + hex.EncodeToString(h[:])
}

// valueReader is the read side of keystore.ValueStore (a Store or a Tx).
type valueReader interface {
	Value(ctx context.Context, name string) ([]byte, error)
}

// loadRoster reads the roster of group cid (the zero rosterRec, base "",
// when none is held).
func loadRoster(ctx context.Context, v valueReader, cid string) (rosterRec, error) {
	var r rosterRec
	b, err := v.Value(ctx, rosterKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("session: reading roster: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return rosterRec{}, fmt.Errorf("session: roster record of %s unreadable: %w", cid, err)
	}
	return r, nil
}

// save stores r as the roster of group cid.
func (r *rosterRec) save(ctx context.Context, tx keystore.Tx, cid string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("session: encoding roster: %w", err)
	}
	return tx.SetValue(ctx, rosterKey(cid), b)
}

// clone returns a deep copy of r.
func (r rosterRec) clone() rosterRec {
	c := r
	c.Members, c.Admins, c.Claimed, c.Unconfirmed = slices.Clone(r.Members), slices.Clone(r.Admins), slices.Clone(r.Claimed), slices.Clone(r.Unconfirmed)
	c.Removed = slices.Clone(r.Removed)
	c.Pending = make([]pendingAdd, len(r.Pending))
	for i, p := range r.Pending {
		c.Pending[i] = pendingAdd{MID: p.MID, Added: slices.Clone(p.Added)}
	}
	return c
}

// state is the RosterState r stands at.
func (r *rosterRec) state() RosterState {
	switch {
	case r.Base == "":
		return RosterUnknown
	case r.Base == baseJoin || len(r.Claimed) > 0 || len(r.Unconfirmed) > 0:
		return RosterUnconfirmed
	}
	return RosterConfirmed
}

// seed returns the sequence id of the member add that started a join-based
// roster ("" when the roster is not one).
func (r *rosterRec) seed() string {
	if r.Base != baseJoin {
		return ""
	}
	return r.Since
}

func (r *rosterRec) member(u string) bool { return slices.Contains(r.Members, u) }

// admin reports whether u is an admin, confirmed or claimed.
func (r *rosterRec) admin(u string) bool {
	return slices.Contains(r.Admins, u) || slices.Contains(r.Claimed, u)
}

// effective returns the members a new key is wrapped to: the roster plus
// this account's own adds not yet read back.
func (r *rosterRec) effective() []string {
	out := slices.Clone(r.Members)
	for _, p := range r.Pending {
		out = append(out, p.Added...)
	}
	return normaliseIDs(out)
}

// unconfirmed returns the ids of targets whose place r does not confirm.
func (r *rosterRec) unconfirmed(targets []string) []string {
	var out []string
	for _, u := range targets {
		if r.Base == baseJoin || slices.Contains(r.Unconfirmed, u) {
			out = append(out, u)
		}
	}
	return out
}

// without returns ids minus drop.
func without(ids, drop []string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(u string) bool { return slices.Contains(drop, u) })
}

// rosterEnv is what a roster step needs besides the record.
type rosterEnv struct {
	ctx  context.Context
	self string
	cid  string
	// paired reports whether the group holds a verified v6+ key change by
	// sender at version (the pair that binds a create to the group).
	paired func(sender, version string) bool
	// createdIn returns the group in which a create with this message id
	// was accepted ("" when none).
	createdIn func(mid string) string
	// screened reports whether a key change distributing version, accepted
	// earlier in the same screening and not stored yet, lies below seq
	// (nil outside a screening: see screenGroup).
	screened func(version, seq string) bool
	// createAt is the lowest create of the group a screening holds that
	// the roster step may accept (verified, bound by its pair, accepted in
	// no other group), nil when it holds none or outside a screening (see
	// createAhead).
	createAt *event.Event
}

// createAhead returns the lowest verified group create among evs (the
// events of a screening, and those a sync's staged pages serve: see
// syncState.findCreate) that stepCreate can bind to group env.cid, nil
// when there is none.
func createAhead(env rosterEnv, evs []*event.Event) *event.Event {
	var lowest *event.Event
	for _, ev := range evs {
		g := ev.GroupChange
		if !ev.Verified || g == nil || g.Kind != event.GroupCreated || (lowest != nil && !decimal.Less(ev.SequenceID, lowest.SequenceID)) || !env.paired(ev.SenderID, g.KeyVersion) {
			continue
		}
		if other := env.createdIn(ev.MessageID); other == "" || other == env.cid {
			lowest = ev
		}
	}
	return lowest
}

// outsiderBelowCreate reports whether ev, read while no roster is held,
// lies below the group's create the screening holds (env.createAt) and
// is by neither one of the create's signed members nor its creator. A
// group holds nothing before its create: the server places an event
// there (sequence ids are unsigned), and only the create's members may
// have made it (an honest create the server moved above their content).
func (r *rosterRec) outsiderBelowCreate(env rosterEnv, ev *event.Event) bool {
	c := env.createAt
	if r.Base != "" || c == nil || !decimal.Less(ev.SequenceID, c.SequenceID) {
		return false
	}
	return ev.SenderID != c.SenderID && !slices.Contains(c.GroupChange.MemberIDs, ev.SenderID)
}

// stepResult is the outcome of one roster step.
type stepResult struct {
	err     error          // why the event is rejected (nil: accepted)
	anomaly *event.Anomaly // a roster finding to report
	changed bool           // whether the record changed
}

// step checks the verified, signed event ev against r and applies it. An
// event that does not change the group is only checked for its author's
// membership.
func (r *rosterRec) step(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	if g == nil {
		switch {
		case r.Base != "" && !r.member(ev.SenderID):
			return stepResult{err: fmt.Errorf("%w: sender %s is not a member of %s", xchat.ErrNotMember, ev.SenderID, env.cid)}
		case r.outsiderBelowCreate(env, ev):
			return stepResult{err: fmt.Errorf("%w: sender %s is not a member of %s: the event lies below the group's create, which does not name its author", xchat.ErrNotMember, ev.SenderID, env.cid)}
		}
		return stepResult{}
	}
	if n := len(g.MemberIDs) + len(g.CurrentMemberIDs) + len(g.CurrentAdminIDs) + len(g.AdminIDs); n > maxRosterIDs {
		return stepResult{err: fmt.Errorf("%w: group change names %d ids (at most %d)", xchat.ErrMalformed, n, maxRosterIDs)}
	}
	if n := max(len(g.Title), len(g.AvatarURL)); n > maxGroupSettingBytes {
		return stepResult{err: fmt.Errorf("%w: group change carries a title or avatar URL of %d bytes (at most %d)", xchat.ErrMalformed, n, maxGroupSettingBytes)}
	}
	switch g.Kind {
	case event.GroupCreated:
		return r.stepCreate(env, ev)
	case event.GroupMembersAdded:
		return r.stepMemberAdd(env, ev)
	case event.GroupMembersRemoved:
		return r.stepRemove(env, ev)
	case event.GroupAdminsAdded, event.GroupAdminsRemoved:
		return r.stepAdmins(env, ev)
	case event.GroupJoinRequested:
		return stepResult{} // by a non-member by nature; changes nothing
	}
	switch {
	case r.Base == "":
		// Read before any roster (below the create, or served without
		// it), a title, avatar or settings change is anyone's: nothing
		// says its author may make it, and what it sets would be the
		// group's (shown, and signed into this account's member adds).
		return stepResult{err: fmt.Errorf("%w: group change (%s) by %s cannot be checked before a roster is established", xchat.ErrRosterUnknown, g.Kind, ev.SenderID)}
	case !r.member(ev.SenderID):
		return stepResult{err: fmt.Errorf("%w: group change (%s) by %s, who is not a member", xchat.ErrNotMember, g.Kind, ev.SenderID)}
	}
	return stepResult{}
}

// anomaly returns a roster anomaly of kind for ev.
func rosterAnomaly(kind event.AnomalyKind, cid string, ev *event.Event, related string) *event.Anomaly {
	return &event.Anomaly{Kind: kind, ConversationID: cid, SequenceID: ev.SequenceID, Related: related}
}

// errCreateUnbound marks a group create its paired key change does not
// (yet) bind to the group.
var errCreateUnbound = errors.New("group create not bound to this group")

// stepCreate accepts the group's one create when its pair is held.
func (r *rosterRec) stepCreate(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	if other := env.createdIn(ev.MessageID); other != "" && other != env.cid {
		return stepResult{err: fmt.Errorf("%w: group create %s was accepted in %s already: replayed into %s", xchat.ErrRosterDivergence, ev.MessageID, other, env.cid),
			anomaly: rosterAnomaly(event.AnomalyCreateReplayed, env.cid, ev, other)}
	}
	if r.Base != "" {
		if ev.MessageID == r.CreateMID && ev.SenderID == r.Creator {
			if r.Seq == "" || decimal.Less(r.Seq, ev.SequenceID) {
				r.Seq = ev.SequenceID
				return stepResult{changed: true}
			}
			return stepResult{}
		}
		return stepResult{err: fmt.Errorf("%w: a second group create (by %s) for a group whose roster is established", xchat.ErrRosterDivergence, ev.SenderID),
			anomaly: rosterAnomaly(event.AnomalyCreateRejected, env.cid, ev, r.Seq)}
	}
	if !env.paired(ev.SenderID, g.KeyVersion) {
		return stepResult{err: fmt.Errorf("%w: %w: group create by %s: the group holds no verified key change by its author at key version %s",
			xchat.ErrRosterDivergence, errCreateUnbound, ev.SenderID, g.KeyVersion), anomaly: rosterAnomaly(event.AnomalyCreateRejected, env.cid, ev, g.KeyVersion)}
	}
	for _, u := range g.MemberIDs {
		if !isUserID(u) {
			return stepResult{err: fmt.Errorf("%w: group create names a malformed user id", xchat.ErrMalformed)}
		}
	}
	// Whom a removal read before named was removed after the create
	// (nothing comes before a create): they are no members.
	members := without(normaliseIDs(append(slices.Clone(g.MemberIDs), ev.SenderID)), r.Removed)
	var claimed []string
	for _, a := range normaliseIDs(g.AdminIDs) {
		if a != ev.SenderID && slices.Contains(members, a) {
			claimed = append(claimed, a)
		}
	}
	// The creator is its first admin, unless a removal read before named
	// it too: then it is no member, and an admin must be one.
	var admins []string
	if slices.Contains(members, ev.SenderID) {
		admins = []string{ev.SenderID}
	}
	*r = rosterRec{Base: baseCreate, Members: members, Admins: admins, Claimed: claimed,
		Seq: ev.SequenceID, Creator: ev.SenderID, CreateMID: ev.MessageID, Removed: r.Removed}
	return stepResult{changed: true}
}

// flatSplit finds the only split of a member add's signed list that an
// honest signer can produce without a roster to read it against: admins
// are members, so the admin part is exactly the tail from the first id
// that repeats an earlier one; before it every id is distinct. ok is false
// when the tail is not made of distinct ids already named before it.
func flatSplit(flat []string) (head, admins []string, ok bool) {
	seen := make(map[string]bool, len(flat))
	j := len(flat)
	for i, u := range flat {
		if seen[u] {
			j = i
			break
		}
		seen[u] = true
	}
	head, admins = flat[:j], flat[j:]
	inTail := make(map[string]bool, len(admins))
	for _, a := range admins {
		if inTail[a] || !seen[a] {
			return nil, nil, false
		}
		inTail[a] = true
	}
	for _, u := range head {
		if !isUserID(u) {
			return nil, nil, false
		}
	}
	return head, admins, true
}

// splitMemberAdd reads a member add's signed list (new ‖ current members ‖
// current admins, as one sequence) against the roster held: the current
// part is the |members| ids before the admin tail and must equal the
// members held; the admin tail must hold every confirmed admin and nothing
// but admins held (confirmed or claimed). The event's own split is never
// used. It returns the new ids, the current ones and the admin tail, or
// why the lists do not fit the roster.
func (r *rosterRec) splitMemberAdd(g *event.GroupChange) (added, current, admins []string, err error) {
	head, admins, ok := flatSplit(slices.Concat(g.MemberIDs, g.CurrentMemberIDs, g.CurrentAdminIDs))
	if !ok {
		return nil, nil, nil, errors.New("its signed id list is not new, current and admin ids")
	}
	if len(head) < len(r.Members) {
		return nil, nil, nil, fmt.Errorf("it names %d members, the roster held has %d", len(head), len(r.Members))
	}
	cut := len(head) - len(r.Members)
	added, current = head[:cut], head[cut:]
	for _, u := range current {
		if !r.member(u) {
			return nil, nil, nil, fmt.Errorf("its current members differ from the roster held (%s)", u)
		}
	}
	for _, a := range admins {
		if !r.admin(a) {
			return nil, nil, nil, fmt.Errorf("it names %s an admin, who is not one in the roster held", a)
		}
	}
	for _, a := range r.Admins {
		if !slices.Contains(admins, a) {
			return nil, nil, nil, fmt.Errorf("it leaves out admin %s of the roster held", a)
		}
	}
	return added, current, admins, nil
}

// stepMemberAdd applies a member add read against the roster held, or
// starts a join-based roster from one naming this account.
func (r *rosterRec) stepMemberAdd(env rosterEnv, ev *event.Event) stepResult {
	r.dropPending(ev)
	if r.Base == "" {
		return r.seedJoin(env, ev)
	}
	if !r.member(ev.SenderID) {
		return stepResult{err: fmt.Errorf("%w: member add by %s, who is not a member", xchat.ErrNotMember, ev.SenderID), changed: true}
	}
	if !r.admin(ev.SenderID) {
		return stepResult{err: fmt.Errorf("%w: member add by %s, who is not an admin", xchat.ErrNotAuthorized, ev.SenderID), changed: true}
	}
	added, current, admins, err := r.splitMemberAdd(ev.GroupChange)
	if err == nil {
		err = r.readmits(added)
	}
	if err != nil {
		res := stepResult{err: fmt.Errorf("%w: member add by %s does not fit the roster held: %s", xchat.ErrRosterDivergence, ev.SenderID, err),
			anomaly: rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, r.Seq), changed: true}
		if ev.SenderID != env.self {
			r.excludeDoubted(ev.GroupChange)
		}
		return res
	}
	// Callers (and the history) see the lists as read, not as the
	// (unsigned) split the event claimed.
	g := *ev.GroupChange
	g.MemberIDs, g.CurrentMemberIDs, g.CurrentAdminIDs = slices.Clone(added), slices.Clone(current), slices.Clone(admins)
	ev.GroupChange = &g
	confirmed := slices.Contains(r.Admins, ev.SenderID)
	r.Members = normaliseIDs(append(r.Members, added...))
	switch {
	case confirmed:
		// A confirmed admin signed the whole roster: every member and
		// admin it names is confirmed.
		r.Admins, r.Claimed, r.Unconfirmed = normaliseIDs(admins), nil, nil
	case ev.SenderID == env.self:
		r.Claimed = slices.DeleteFunc(r.Claimed, func(a string) bool { return !slices.Contains(admins, a) })
	default:
		r.Claimed = slices.DeleteFunc(r.Claimed, func(a string) bool { return !slices.Contains(admins, a) })
		r.Unconfirmed = normaliseIDs(append(r.Unconfirmed, added...))
	}
	r.Seq = ev.SequenceID
	return stepResult{changed: true}
}

// readmits refuses a member add of an id a removal named while it was no
// member, or before any roster was held (a tombstone, see stepRemove): its
// add may be one the server moved after the removal.
func (r *rosterRec) readmits(added []string) error {
	for _, u := range added {
		if slices.Contains(r.Removed, u) {
			return fmt.Errorf("it adds %s, whom a removal named while not a member: the add may have been moved after that removal", u)
		}
	}
	return nil
}

// excludeDoubted applies what an admin's member add that does not fit the
// roster held still says for certain: whoever it names neither as a new
// nor as a current member is, in its author's signed view, no member, and
// whoever its admin tail leaves out no admin. Such members and admins are
// excluded (a removal the server withheld shows this way); nobody is added.
// When in doubt, exclude: the server can cause exclusion (it can withhold
// anything), never inclusion.
func (r *rosterRec) excludeDoubted(g *event.GroupChange) {
	head, admins, ok := flatSplit(slices.Concat(g.MemberIDs, g.CurrentMemberIDs, g.CurrentAdminIDs))
	if !ok {
		return
	}
	out := func(ids, keep []string) []string {
		return slices.DeleteFunc(ids, func(u string) bool { return !slices.Contains(keep, u) })
	}
	r.Members = out(r.Members, head)
	r.Admins, r.Claimed = out(r.Admins, admins), out(r.Claimed, admins)
	r.Unconfirmed = out(r.Unconfirmed, r.Members)
}

// seedJoin starts a roster from a member add that names this account, when
// no roster is held: trust on first use.
func (r *rosterRec) seedJoin(env rosterEnv, ev *event.Event) stepResult {
	head, admins, ok := flatSplit(slices.Concat(ev.GroupChange.MemberIDs, ev.GroupChange.CurrentMemberIDs, ev.GroupChange.CurrentAdminIDs))
	switch {
	case !ok:
		return stepResult{err: fmt.Errorf("%w: member add whose signed id list is not new, current and admin ids", xchat.ErrRosterDivergence),
			anomaly: rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, "")}
	case !slices.Contains(head, env.self):
		return stepResult{err: fmt.Errorf("%w: member add by %s before any roster is established, not naming this account", xchat.ErrRosterUnknown, ev.SenderID)}
	case !slices.Contains(admins, ev.SenderID):
		return stepResult{err: fmt.Errorf("%w: member add by %s, whom its own admin list does not name", xchat.ErrNotAuthorized, ev.SenderID)}
	}
	if err := r.readmits(head); err != nil {
		return stepResult{err: fmt.Errorf("%w: member add by %s cannot start the roster: %s", xchat.ErrRosterDivergence, ev.SenderID, err),
			anomaly: rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, "")}
	}
	members := normaliseIDs(head)
	*r = rosterRec{Base: baseJoin, Members: members, Claimed: normaliseIDs(admins), Unconfirmed: members,
		Seq: ev.SequenceID, Since: ev.SequenceID, Pending: r.Pending, Removed: r.Removed}
	return stepResult{changed: true}
}

// dropPending forgets this account's own member add ev once it is read
// back, whatever its outcome.
func (r *rosterRec) dropPending(ev *event.Event) {
	r.Pending = slices.DeleteFunc(r.Pending, func(p pendingAdd) bool { return p.MID == ev.MessageID })
}

// stepRemove applies a removal: an admin removes anyone, a member removes
// only itself (leaving). The ids it names that are no members are recorded
// as its tombstones and reported (see readmits); so are all it names when
// it is read before any roster is held (it is refused then:
// xchat.ErrRosterUnknown).
func (r *rosterRec) stepRemove(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	if res, ok := r.authorise(env, ev, !(len(g.MemberIDs) == 1 && g.MemberIDs[0] == ev.SenderID)); !ok {
		if gone := r.absent(env, g.MemberIDs); r.Base == "" && len(gone) > 0 {
			// Read before any roster: its author's rights cannot be
			// checked, but whom it names may have been removed after
			// an add the server serves later (a stale add naming this
			// account would otherwise seed the roster with them).
			r.Removed, res.changed = normaliseIDs(append(r.Removed, gone...)), true
		}
		return res
	}
	res := r.remove(env, ev)
	r.Seq = ev.SequenceID
	return res
}

// remove takes the members removal ev names off r (members, admins,
// claimed admins, unconfirmed members, pending own adds); the ids it names
// that are no members become its tombstones, reported as a divergence.
func (r *rosterRec) remove(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	res := stepResult{changed: true}
	if gone := r.absent(env, g.MemberIDs); len(gone) > 0 {
		r.Removed = normaliseIDs(append(r.Removed, gone...))
		res.anomaly = rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, r.Seq)
	}
	r.Members, r.Admins = without(r.Members, g.MemberIDs), without(r.Admins, g.MemberIDs)
	r.Claimed, r.Unconfirmed = without(r.Claimed, g.MemberIDs), without(r.Unconfirmed, g.MemberIDs)
	for i := range r.Pending {
		r.Pending[i].Added = without(r.Pending[i].Added, g.MemberIDs)
	}
	return res
}

// absent returns the well-formed ids of a removal that are neither
// members nor pending own adds, this account aside: the removal's
// tombstones (this account's own place is no one else's exposure).
func (r *rosterRec) absent(env rosterEnv, ids []string) []string {
	held := r.effective()
	var out []string
	for _, u := range ids {
		if isUserID(u) && u != env.self && !slices.Contains(held, u) {
			out = append(out, u)
		}
	}
	return out
}

// stepAdmins applies an admin add or removal by an admin. Admins named by
// a confirmed admin are confirmed; by a claimed one, claimed.
func (r *rosterRec) stepAdmins(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	if res, ok := r.authorise(env, ev, true); !ok {
		return res
	}
	if g.Kind == event.GroupAdminsRemoved {
		r.Admins, r.Claimed = without(r.Admins, g.AdminIDs), without(r.Claimed, g.AdminIDs)
		r.Seq = ev.SequenceID
		return stepResult{changed: true}
	}
	for _, a := range g.AdminIDs {
		if !r.member(a) {
			return stepResult{err: fmt.Errorf("%w: admin add names %s, who is not a member", xchat.ErrRosterDivergence, a),
				anomaly: rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, r.Seq)}
		}
	}
	if slices.Contains(r.Admins, ev.SenderID) {
		r.Admins, r.Claimed = normaliseIDs(append(r.Admins, g.AdminIDs...)), without(r.Claimed, g.AdminIDs)
	} else {
		r.Claimed = normaliseIDs(append(r.Claimed, without(g.AdminIDs, r.Admins)...))
	}
	r.Seq = ev.SequenceID
	return stepResult{changed: true}
}

// authorise checks the author of a removal or admin change: a member, and
// an admin when needAdmin. ok is false with the rejection otherwise.
func (r *rosterRec) authorise(env rosterEnv, ev *event.Event, needAdmin bool) (stepResult, bool) {
	kind := ev.GroupChange.Kind
	switch {
	case r.Base == "":
		return stepResult{err: fmt.Errorf("%w: group change (%s) by %s cannot be checked before a roster is established", xchat.ErrRosterUnknown, kind, ev.SenderID)}, false
	case !r.member(ev.SenderID):
		return stepResult{err: fmt.Errorf("%w: group change (%s) by %s, who is not a member", xchat.ErrNotMember, kind, ev.SenderID)}, false
	case needAdmin && !r.admin(ev.SenderID):
		return stepResult{err: fmt.Errorf("%w: group change (%s) by %s, who is not an admin", xchat.ErrNotAuthorized, kind, ev.SenderID)}, false
	}
	return stepResult{}, true
}

// wrapTargets returns whom a new key of cid may be wrapped to: the two
// participants of a one-to-one conversation, or a group's roster held
// from signed changes (plus this account's own adds not yet read back).
// It refuses a group whose roster is unknown (xchat.ErrRosterUnknown), one this
// account is not a member of (xchat.ErrNotMember) and, under TrustStrict, one
// with members the roster does not confirm (xchat.ErrRosterUnconfirmed).
func (e *Engine) wrapTargets(ctx context.Context, cid string) ([]string, error) {
	if !IsGroup(cid) {
		a, b, _ := cutPair(cid)
		if a != e.userID && b != e.userID {
			return nil, fmt.Errorf("%w: %s", xchat.ErrNotMember, cid)
		}
		return []string{a, b}, nil
	}
	if err := e.settleLatePending(ctx, cid); err != nil {
		return nil, err
	}
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return nil, err
	}
	if r.Base == "" {
		return nil, fmt.Errorf("%w: %s: no signed group change of this group has been accepted (the server withheld them, or the group's create could not be bound to it); sync the group, or ask a member to add this account again", xchat.ErrRosterUnknown, cid)
	}
	targets := r.effective()
	if !slices.Contains(targets, e.userID) {
		return nil, fmt.Errorf("%w: %s", xchat.ErrNotMember, cid)
	}
	if e.cfg.policy.strict() {
		if un := r.unconfirmed(without(targets, []string{e.userID})); len(un) > 0 {
			why := "was added by an admin whose own rights rest on unsigned data"
			if r.Base == baseJoin {
				why = "is taken on trust: this account joined at #" + r.Since + " and never saw the group's creation"
			}
			return nil, fmt.Errorf("%w: %s: the place of %v %s; under strict trust no key is wrapped to it", xchat.ErrRosterUnconfirmed, cid, un, why)
		}
	}
	return targets, nil
}
