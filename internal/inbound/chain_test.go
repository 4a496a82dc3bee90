package inbound

import (
	"testing"

	"github.com/xchat-go/xchat/session/event"
)

func cev(seq, prev string, raw string) *event.Event {
	return &event.Event{SequenceID: seq, PreviousSequenceID: prev, ConversationID: "c", Raw: []byte(raw), Kind: event.KindMessage}
}

func kinds(a []event.Anomaly) []event.AnomalyKind {
	var out []event.AnomalyKind
	for _, x := range a {
		out = append(out, x.Kind)
	}
	return out
}

func TestChain(t *testing.T) {
	cases := []struct {
		name string
		evs  []*event.Event
		want []event.AnomalyKind
		rel  string
	}{
		{"linear", []*event.Event{cev("1", "", "a"), cev("2", "1", "b"), cev("3", "2", "c")}, nil, ""},
		{"first event's predecessor is outside the window", []*event.Event{cev("7", "6", "a"), cev("8", "7", "b")}, nil, ""},
		{"gap", []*event.Event{cev("1", "", "a"), cev("2", "1", "b"), cev("4", "3", "d")}, []event.AnomalyKind{event.AnomalyGap}, "3"},
		{"duplicate", []*event.Event{cev("1", "", "a"), cev("2", "1", "b"), cev("2", "1", "b")}, []event.AnomalyKind{event.AnomalyDuplicate}, "2"},
		{"conflict", []*event.Event{cev("1", "", "a"), cev("2", "1", "b"), cev("2", "1", "B")}, []event.AnomalyKind{event.AnomalyConflict}, "2"},
		{"fork", []*event.Event{cev("1", "", "a"), cev("2", "1", "b"), cev("3", "1", "c")}, []event.AnomalyKind{event.AnomalyFork}, "1"},
		{"reorder", []*event.Event{cev("1", "", "a"), cev("3", "1", "c"), cev("2", "1", "b")}, []event.AnomalyKind{event.AnomalyFork, event.AnomalyReorder}, "1"},
		{"self reference", []*event.Event{cev("1", "", "a"), cev("2", "2", "b")}, []event.AnomalyKind{event.AnomalySelfReference}, "2"},
		{"numeric ordering", []*event.Event{cev("9", "", "a"), cev("10", "9", "b")}, nil, ""},
		{"events without sequence ids are ignored", []*event.Event{cev("1", "", "a"), cev("", "", "t"), cev("2", "1", "b")}, nil, ""},
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
