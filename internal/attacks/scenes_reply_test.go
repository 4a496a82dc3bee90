package attacks

import (
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// The forged-quote scene: alice, a dishonest participant, replies to one
// of bob's messages and, with the server's help, rewrites the quote her
// reply carries: she opens the contents, edits the preview, seals them
// again and signs the event anew, so only the quote can give her away.

// forgeReplyPreview makes the proxy (rule name) serve alice's reply with
// its quote preview edited by edit, sealed again under the reply's key and
// re-signed by alice. The returned function reports a failure of the
// rewrite; call it once the victim has synced.
func (d *dm) forgeReplyPreview(name string, reply *session.Sent, edit func(p *product.ReplyingToPreview)) (failed func() error) {
	key := d.alice.convKey(d.cid, reply.KeyVersion)
	f := d.alice.forger()
	var ferr error
	d.w.tamper(name, reply.MessageID, func(me *tevent.MessageEvent) {
		h, err := hostile.OpenContents(me, key)
		if err != nil {
			ferr = err
			return
		}
		edit(h.Contents.Message.ReplyingToPreview)
		if ferr = hostile.SealContents(me, key, h); ferr == nil {
			ferr = f.Resign(me)
		}
	})
	return func() error { return ferr }
}
