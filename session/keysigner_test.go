package session

import (
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// TestSignerCurrentIn: only the pinned version, or one carrying the pinned
// signing key, is a peer's current signer; a superseded or unknown version
// is not, and nothing is current without a pin.
func TestSignerCurrentIn(t *testing.T) {
	old := keystore.PeerKey{Version: "100", SigningPublicKey: []byte("old signing key")}
	cur := keystore.PeerKey{Version: "200", SigningPublicKey: []byte("new signing key"), Pinned: true}
	same := keystore.PeerKey{Version: "150", SigningPublicKey: []byte("new signing key")}
	stored := []keystore.PeerKey{old, same, cur}
	for _, c := range []struct {
		stored  []keystore.PeerKey
		version string
		want    bool
	}{
		{stored, "200", true},
		{stored, "150", true},  // re-registered under a new version with the same signing key
		{stored, "100", false}, // superseded
		{stored, "300", false}, // unknown
		{[]keystore.PeerKey{old}, "100", false},
	} {
		if got := signerCurrentIn(c.stored, c.version); got != c.want {
			t.Errorf("signerCurrentIn(version %s of %d key sets) = %v, want %v", c.version, len(c.stored), got, c.want)
		}
	}
}
