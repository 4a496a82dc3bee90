package api

import "testing"

// TestConversationPathID: the canonical one-to-one id becomes the path
// form the routes validate; group ids and path-form ids are unchanged.
func TestConversationPathID(t *testing.T) {
	for in, want := range map[string]string{"9:10": "9-10", "9-10": "9-10", "g1": "g1", "42": "42"} {
		got := ConversationPathID(in)
		if got != want {
			t.Errorf("ConversationPathID(%q) = %q, want %q", in, got, want)
		}
		if err := ValidateConversationID(got); err != nil {
			t.Errorf("ConversationPathID(%q) = %q, which the routes refuse: %v", in, got, err)
		}
	}
}
