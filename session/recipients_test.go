package session

import (
	"maps"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// TestKeyRecipientsFollowMeta: the cached key recipients are those of the
// meta as stored now, whatever was cached before; a conversation's entry
// never answers for another's; a meta the cache holds is not decoded again.
func TestKeyRecipientsFollowMeta(t *testing.T) {
	var c recipientsCache
	a := convMeta{KeyRecipients: map[string]string{"1": "10", "2": "20"}}
	b := convMeta{KeyRecipients: map[string]string{"1": "10", "2": "21"}}
	metaA, metaB := a.encode(), b.encode()
	steps := []struct {
		cid  string
		meta []byte
		want map[string]string
	}{
		{"1:2", metaA, a.KeyRecipients},
		{"1:2", append([]byte(nil), metaA...), a.KeyRecipients},
		{"1:2", metaB, b.KeyRecipients},
		{"1:3", metaA, a.KeyRecipients},
		{"1:2", nil, nil},
		{"1:2", []byte("{not json"), nil},
		{"1:2", metaB, b.KeyRecipients},
	}
	for i, s := range steps {
		got := c.keyRecipients(s.cid, &keystore.Conversation{ID: s.cid, Meta: s.meta})
		if !maps.Equal(got, s.want) {
			t.Fatalf("step %d: %v, want %v", i, got, s.want)
		}
	}
	if got := c.keyRecipients("1:2", nil); got != nil {
		t.Fatalf("no record: %v", got)
	}
	// A hit returns the very map decoded for those bytes.
	first := c.keyRecipients("1:4", &keystore.Conversation{ID: "1:4", Meta: metaB})
	first["1"] = "changed in the cache"
	if again := c.keyRecipients("1:4", &keystore.Conversation{ID: "1:4", Meta: metaB}); again["1"] != "changed in the cache" {
		t.Fatal("the same meta was decoded again")
	}
}
