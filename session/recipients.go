package session

import (
	"bytes"
	"sync"

	"github.com/xchat-go/xchat/keystore"
)

// maxCachedRecipients bounds recipientsCache: past it, the cache starts
// over (an account sending to more conversations than that decodes again).
const maxCachedRecipients = 1024

// recipientsCache remembers, per conversation, the key recipients decoded
// from its stored meta (convMeta.KeyRecipients), under the exact meta bytes
// they were decoded from: every send checks them (see keyStaleIn), and the
// meta seldom changes. A lookup hits only for meta equal byte for byte to
// the cached one, so it gives what decoding would. The zero value is ready
// for use.
type recipientsCache struct {
	mu sync.Mutex
	m  map[string]cachedRecipients
}

type cachedRecipients struct {
	meta       []byte
	recipients map[string]string
}

// keyRecipients returns loadMeta(rec).KeyRecipients of conversation cid,
// decoding the meta only when it changed since the last call. The map
// returned is shared: read it, never change it.
func (c *recipientsCache) keyRecipients(cid string, rec *keystore.Conversation) map[string]string {
	var meta []byte
	if rec != nil {
		meta = rec.Meta
	}
	c.mu.Lock()
	hit, ok := c.m[cid]
	c.mu.Unlock()
	if ok && bytes.Equal(hit.meta, meta) {
		return hit.recipients
	}
	r := loadMeta(rec).KeyRecipients
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedRecipients {
		c.m = map[string]cachedRecipients{}
	}
	c.m[cid] = cachedRecipients{meta: bytes.Clone(meta), recipients: r}
	return r
}
