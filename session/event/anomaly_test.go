package event

import "testing"

// TestAnomalyNames: every kind has its own snake_case name (kinds are
// appended, never renumbered, and a kind without a name would print as
// "unknown").
func TestAnomalyNames(t *testing.T) {
	seen := map[string]AnomalyKind{}
	for k := AnomalyGap; k <= AnomalyFailedNotKept; k++ {
		name := k.String()
		if name == "unknown" || name == "" {
			t.Errorf("kind %d has no name", k)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d share the name %q", prev, k, name)
		}
		seen[name] = k
	}
	if got := AnomalyKeyWrappedToNonMember.String(); got != "key_wrapped_to_non_member" {
		t.Errorf("AnomalyKeyWrappedToNonMember prints as %q", got)
	}
	if AnomalyKeyWrappedToNonMember != 12 {
		t.Errorf("AnomalyKeyWrappedToNonMember = %d: kinds are appended, never renumbered", AnomalyKeyWrappedToNonMember)
	}
	if got := AnomalyFailedNotKept.String(); got != "failed_not_kept" || AnomalyFailedNotKept != 13 {
		t.Errorf("AnomalyFailedNotKept = %d prints as %q", AnomalyFailedNotKept, got)
	}
	if got := (AnomalyFailedNotKept + 1).String(); got != "unknown" {
		t.Errorf("kind past the last prints as %q", got)
	}
	a := Anomaly{Kind: AnomalyKeyWrappedToNonMember, ConversationID: "g1", SequenceID: "5", Related: "99"}
	if got, want := a.String(), "key_wrapped_to_non_member in g1 at 5 (99)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
