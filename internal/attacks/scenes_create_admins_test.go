package attacks

import (
	"net/http"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/thriftgen/event"
)

// The rewritten-admins scene: a GroupCreate does not sign its admin list,
// so the server serves the victim a create naming whom it likes as admins.

// rewriteCreateAdmins makes the proxy (rule name) serve every GroupCreate
// in the events pages' data with its admin list replaced by what admins
// returns for it.
func (w *world) rewriteCreateAdmins(name string, admins func(listed []string) []string) {
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *event.MessageEvent) error {
			if gc := groupChangeOf(me).GetGroupCreate(); gc != nil {
				gc.AdminIds = admins(gc.AdminIds)
			}
			return nil
		})
	}))
}

// claimCreateAdmin makes the proxy add id to the admin list of every
// GroupCreate it serves.
func (w *world) claimCreateAdmin(id string) {
	w.rewriteCreateAdmins("claim-admin", func(listed []string) []string { return append(listed, id) })
}
