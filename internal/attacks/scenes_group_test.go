package attacks

import "github.com/xchat-go/xchat/session"

// The group scene: alice creates a group with bob and carol and says hello
// in it. Most group attacks start here and differ in who is the victim,
// whether mallory (no member) is registered before the group is made, and
// whether bob has synced the hello before the server starts lying.

// groupSetup says how groupScene builds its group; the zero value is alice,
// bob (the victim) and carol, alice's hello "hello", nobody synced.
type groupSetup struct {
	hello       string           // alice's first message; "hello" if empty
	aliceVictim bool             // alice, not bob, is the victim
	bobOpts     []session.Option // bob's engine options
	mallory     bool             // register mallory (no member) before the group is made
	bobSyncs    bool             // bob syncs the hello before the scene is handed over
}

// groupScene registers alice, bob and carol (and mallory if s.mallory, in
// that order), has alice create a group with bob and carol and send
// s.hello; bob then syncs it if s.bobSyncs.
func groupScene(w *world, s groupSetup) (*group, error) {
	gr := &group{w: w}
	gr.alice = w.newUser("alice", s.aliceVictim)
	gr.bob = w.newUser("bob", !s.aliceVictim, s.bobOpts...)
	gr.carol = w.newUser("carol", false)
	if s.mallory {
		gr.mallory = w.newUser("mallory", false)
	}
	g, err := gr.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{gr.bob.id, gr.carol.id}})
	if err != nil {
		return nil, err
	}
	gr.g = g
	hello := s.hello
	if hello == "" {
		hello = "hello"
	}
	gr.hello = gr.alice.send(g, hello)[0]
	if s.bobSyncs {
		if r := gr.bob.sync(g); r.err != nil {
			return nil, r.err
		}
	}
	return gr, nil
}
