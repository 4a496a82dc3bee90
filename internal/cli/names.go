package cli

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
)

// usernamesKey names the cache of @usernames (sealed in the keystore).
const usernamesKey = "xchat.cli.usernames"

// Usernames are what the server says an id is called: unsigned, so they
// are shown next to the id (which is what keys are pinned to and
// signatures verified against), never instead of it, and never decide
// anything.

// validUsername matches X usernames (letters, digits, underscore, up to 15;
// the emulator's may be longer).
var validUsername = regexp.MustCompile(`^[A-Za-z0-9_]{1,50}$`)

// names returns the cached id → username map (empty when none).
func (a *app) names(ctx context.Context) map[string]string {
	if a.usernames != nil {
		return a.usernames
	}
	a.usernames = map[string]string{}
	if a.store == nil {
		return a.usernames
	}
	b, err := a.store.Value(ctx, usernamesKey)
	if err == nil {
		_ = json.Unmarshal(b, &a.usernames)
	}
	return a.usernames
}

// learnNames records the usernames of users in the cache.
func (a *app) learnNames(ctx context.Context, users []api.User) {
	m := a.names(ctx)
	before := maps.Clone(m)
	for _, u := range users {
		if api.ValidateUserID(u.ID) == nil && validUsername.MatchString(u.Username) {
			m[u.ID] = u.Username
		}
	}
	if a.store == nil || maps.Equal(before, m) {
		return
	}
	if b, err := json.Marshal(m); err == nil {
		_ = a.store.SetValue(ctx, usernamesKey, b)
	}
}

// fetchNames asks the server for the usernames of cid's participants when
// one of them is not cached yet. Failures are ignored: names are a
// convenience.
func (a *app) fetchNames(ctx context.Context, e *session.Engine, cid string) {
	if a.client == nil {
		return
	}
	c, err := e.Conversation(ctx, cid)
	if err != nil {
		return
	}
	m := a.names(ctx)
	missing := false
	for _, id := range c.Members {
		if _, ok := m[id]; !ok {
			missing = true
		}
	}
	if !missing {
		return
	}
	resp, _, err := a.client.GetConversation(ctx, api.ConversationPathID(cid), &api.GetConversationOptions{
		Expansions: []string{"participant_ids"}, UserFields: []string{"username"},
	})
	if err == nil && resp != nil && resp.Includes != nil {
		a.learnNames(ctx, resp.Includes.Users)
	}
}

// fetchAllNames learns the usernames of the first page of conversations.
func (a *app) fetchAllNames(ctx context.Context) {
	if a.client == nil {
		return
	}
	resp, _, err := a.client.ListConversations(ctx, &api.ListConversationsOptions{
		MaxResults: 100, Expansions: []string{"participant_ids"}, UserFields: []string{"username"},
	})
	if err == nil && resp != nil && resp.Includes != nil {
		a.learnNames(ctx, resp.Includes.Users)
	}
}

// label is "ID (@username)" when the username is known, else "ID".
func (a *app) label(id string) string {
	if n, ok := a.usernames[id]; ok {
		return id + " (@" + n + ")"
	}
	return id
}

// username returns the cached username of id ("" when unknown).
func (a *app) username(id string) string { return a.usernames[id] }
