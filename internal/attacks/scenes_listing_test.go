package attacks

import (
	"net/http"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
)

// The listing scene: the server's conversation listing (unsigned) claims
// someone is a member of a group no signed change admitted them to.

// claimMember makes the proxy name id among the members and participants
// of conversation g, both in the conversation list and in g's own answer.
func (w *world) claimMember(g, id string) {
	add := func(c *api.ChatConversation) {
		if c.ID == g {
			c.MemberIDs = append(c.MemberIDs, id)
			c.ParticipantIDs = append(c.ParticipantIDs, id)
		}
	}
	w.proxy.Add(hostile.Conversations("claim-list", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
		for i := range v.Data {
			add(&v.Data[i])
		}
		return nil
	}), hostile.Conversation("claim-one", func(_ *http.Request, v *api.GetChatConversationResponse) error {
		if v.Data != nil {
			add(v.Data)
		}
		return nil
	}))
}
