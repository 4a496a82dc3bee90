package attacks

import (
	"net/http"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/thriftgen/event"
)

// The padded-participants scene: a key change does not sign its
// participant list, so the server appends an outsider to it, with a junk
// key wrapped to her identity key.

// padKeyChanges makes the proxy append outsider (outsiderParticipant) to
// the participants of the key changes served in each events page's meta:
// of the one with message id mid, or of every one if mid is "".
func (w *world) padKeyChanges(outsider *user, mid string) error {
	p, err := outsiderParticipant(outsider)
	if err != nil {
		return err
	}
	w.proxy.Add(hostile.Events("append-participant", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if page.Meta == nil {
			return nil
		}
		for i, b := range page.Meta.ConversationKeyEvents {
			nb, err := hostile.EditEvent(b, func(me *event.MessageEvent) error {
				if mid == "" || me.GetMessageID() == mid {
					kc := me.Detail.ConversationKeyChangeEvent
					kc.ConversationParticipantKeys = append(kc.ConversationParticipantKeys, p)
				}
				return nil
			})
			if err != nil {
				return err
			}
			page.Meta.ConversationKeyEvents[i] = nb
		}
		return nil
	}))
	return nil
}
