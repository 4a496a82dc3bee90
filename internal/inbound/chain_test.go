package inbound

import (
	"testing"
)

func cev(seq, prev string, raw string) *Event {
	return &Event{SequenceID: seq, PreviousSequenceID: prev, ConversationID: "c", Raw: []byte(raw), Kind: KindMessage}
}

func kinds(a []Anomaly) []AnomalyKind {
	var out []AnomalyKind
	for _, x := range a {
		out = append(out, x.Kind)
	}
	return out
}

func TestChain(t *testing.T) {
	cases := []struct {
		name string
		evs  []*Event
		want []AnomalyKind
		rel  string
	}{
		{"linear", []*Event{cev("1", "", "a"), cev("2", "1", "b"), cev("3", "2", "c")}, nil, ""},
		{"first event's predecessor is outside the window", []*Event{cev("7", "6", "a"), cev("8", "7", "b")}, nil, ""},
		{"gap", []*Event{cev("1", "", "a"), cev("2", "1", "b"), cev("4", "3", "d")}, []AnomalyKind{AnomalyGap}, "3"},
		{"duplicate", []*Event{cev("1", "", "a"), cev("2", "1", "b"), cev("2", "1", "b")}, []AnomalyKind{AnomalyDuplicate}, "2"},
		{"conflict", []*Event{cev("1", "", "a"), cev("2", "1", "b"), cev("2", "1", "B")}, []AnomalyKind{AnomalyConflict}, "2"},
		{"fork", []*Event{cev("1", "", "a"), cev("2", "1", "b"), cev("3", "1", "c")}, []AnomalyKind{AnomalyFork}, "1"},
		{"reorder", []*Event{cev("1", "", "a"), cev("3", "1", "c"), cev("2", "1", "b")}, []AnomalyKind{AnomalyFork, AnomalyReorder}, "1"},
		{"self reference", []*Event{cev("1", "", "a"), cev("2", "2", "b")}, []AnomalyKind{AnomalySelfReference}, "2"},
		{"numeric ordering", []*Event{cev("9", "", "a"), cev("10", "9", "b")}, nil, ""},
		{"events without sequence ids are ignored", []*Event{cev("1", "", "a"), cev("", "", "t"), cev("2", "1", "b")}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := NewChain()
			for _, e := range c.evs {
				ch.Observe(e)
			}
			got := ch.Anomalies()
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i, k := range c.want {
				if got[i].Kind != k || got[i].ConversationID != "c" {
					t.Fatalf("got %v, want %v", kinds(got), c.want)
				}
			}
			if len(c.want) > 0 && got[0].Related != c.rel {
				t.Fatalf("related %q, want %q (%s)", got[0].Related, c.rel, got[0])
			}
		})
	}
}

func TestChainSeparatesConversations(t *testing.T) {
	ch := NewChain()
	a := cev("1", "", "a")
	b := cev("1", "", "b")
	b.ConversationID = "d"
	ch.Observe(a)
	if got := ch.Observe(b); len(got) != 0 {
		t.Fatalf("same sequence id in another conversation flagged: %v", got)
	}
}
