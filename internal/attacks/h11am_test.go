package attacks

// h11am's attacks: what the engine took from unsigned fields and passed
// on under its own signature.

var h11amAttacks = []attack{
	{"create-unsigned-ttl-signed-in-member-add", attackCreateTTLSigned},
}

// injectedTTL is the disappearing-message lifetime the server writes into
// a create it serves: one minute.
const injectedTTL int64 = 60_000

// attackCreateTTLSigned: a GroupCreate does not sign its TTL (the group's
// disappearing-message lifetime). The server serves bob alice's create with
// a TTL she never set; alice makes bob an admin and he adds dave. Unless
// the engine keeps the create's TTL out of the group's details, bob's
// member add signs the server's TTL as the group's current one, for every
// member's client to apply, where a fresh device served the create as
// alice made it signs none.
func attackCreateTTLSigned(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	h.say(h.alice, "alice after bob's rights")
	h.seal()
	whole, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	add, err := addBobSigns(w, hs, oneRound(whole), false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if add.CurrentTTLMsec != nil {
		return "", errorf("setup: a fresh device served the create as made signs a TTL of %d ms", *add.CurrentTTLMsec)
	}
	created := false
	for _, it := range h.items {
		if gc := groupChangeOf(it.me).GetGroupCreate(); gc != nil {
			ttl := injectedTTL
			gc.TTLMsec, created = &ttl, true
		}
	}
	if !created {
		return "", errorf("setup: no group create in the transcript")
	}
	served, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	if add, err = addBobSigns(w, hs, oneRound(served), false); err != nil {
		return "", err
	}
	if t := add.CurrentTTLMsec; t != nil {
		return "", errorf("bob's member add signs a TTL of %d ms, the server's (unsigned in the create), as the group's", *t)
	}
	return "bob's member add signs no TTL the server wrote into the create", nil
}
