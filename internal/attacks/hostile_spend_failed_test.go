package attacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the twenty-fourth review: resources a hostile server
// can exhaust — what the server's answers and pushes make the engine
// store and allocate.

var spendFailedAttacks = []attack{
	{"pushed-failed-events-fill-the-store", attackPushedFailedEventsFillTheStore},
	{"pushed-failed-events-across-invented-conversations", attackPushedFailedEventsAcrossInventedConversations},
	{"pushed-forgeries-invent-conversations", attackPushedForgeriesInventConversations},
	{"answer-empty-problem-flood", attackAnswerEmptyProblemFlood},
	{"error-body-empty-problem-flood", attackErrorBodyEmptyProblemFlood},
	{"activity-stream-problem-flood", attackStreamProblemFlood},
}

// failedPushes is how many forged events the store-filling attack pushes,
// failedAllowance the failed events bob's engine keeps per conversation
// (session.WithMaxFailedEvents), and failedPad the ciphertext of each.
const (
	failedPushes    = 48
	failedAllowance = 16
	failedPad       = 64 << 10
)

// failedPushScene is alice's one-to-one conversation with bob, who keeps
// failedAllowance failed events: she sends texts and bob syncs them. It
// returns alice, bob, the conversation, the server's copy of her last message
// (a model for the pushes) and its sequence id.
func failedPushScene(w *world, texts ...string) (alice, bob *user, cid string, model *tevent.MessageEvent, base uint64, err error) {
	alice = w.newUser("alice", false)
	bob = w.newUser("bob", true, session.WithMaxFailedEvents(failedAllowance, 1<<30))
	sent := alice.send(bob.id, texts...)
	cid = sent[0].ConversationID
	if r := bob.sync(cid); r.err != nil {
		return nil, nil, "", nil, 0, r.err
	}
	if model, err = serverEvent(w, bob, cid, sent[len(sent)-1].MessageID); err != nil {
		return nil, nil, "", nil, 0, err
	}
	base, err = strconv.ParseUint(model.GetSequenceID(), 10, 64)
	return alice, bob, cid, model, base, err
}

// attackPushedFailedEventsFillTheStore: the server pushes bob, one after
// another, forged events in his conversation with alice — each under a
// fresh event_uuid, sequence id and message id, carrying 64 KiB of
// ciphertext its signature does not cover. Each fails verification and
// was stored, failed, with its bytes: a sync's fetching is bounded
// (WithMaxSyncBytes), pushes were not, so a server that pushes forever
// fills bob's disk with what it alone made up. A conversation keeps a
// bounded number (and size) of failed events; the rest are reported
// (AnomalyFailedNotKept), and honest messages are still stored.
func attackPushedFailedEventsFillTheStore(w *world) (string, error) {
	alice, bob, cid, model, base, err := failedPushScene(w, "m1", "m2")
	if err != nil {
		return "", err
	}
	reported := 0
	for i := range failedPushes {
		forged := *model
		mce := *model.Detail.MessageCreateEvent
		mce.Contents = bytes.Repeat([]byte{byte(i)}, failedPad)
		det := *model.Detail
		det.MessageCreateEvent = &mce
		forged.Detail = &det
		forged.SequenceID = strp(strconv.FormatUint(base+1000+uint64(i), 10))
		forged.MessageID = strp(fmt.Sprintf("forged-%d", i))
		ev, err := pushOf(bob, fmt.Sprintf("forged-push-%d", i), &forged, "", nil)
		if err != nil {
			return "", err
		}
		d, _, err := bob.deliver(ev)
		if err != nil {
			return "", errorf("push %d: %w", i, err)
		}
		for _, a := range d.Anomalies {
			if a.Kind == event.AnomalyFailedNotKept {
				reported++
			}
		}
	}
	kept, err := failedKept(w.ctx, bob, cid)
	if err != nil {
		return "", err
	}
	if kept > failedAllowance {
		return "", errorf("%d forged pushes left %d failed events (%d KiB of server-chosen bytes) in bob's store; the conversation keeps %d", failedPushes, kept, kept*failedPad>>10, failedAllowance)
	}
	if reported == 0 {
		return "", errorf("%d forged pushes not kept, and no push reported it", failedPushes-kept)
	}
	// Honest traffic is untouched: alice's next message is stored verified.
	more := alice.send(bob.id, "m3")[0]
	if r := bob.sync(cid); r.err != nil {
		return "", r.err
	} else if err, seen := r.byMessage(more.MessageID); !seen || err != nil {
		return "", errorf("alice's message after the flood: seen %v, err %v", seen, err)
	}
	return fmt.Sprintf("%d forged pushes: %d kept failed, %d reported not kept; honest message stored", failedPushes, kept, reported), nil
}

// inventedConversations is how many one-to-one conversations the
// spreading attack invents, one forged push each.
const inventedConversations = 96

// attackPushedFailedEventsAcrossInventedConversations: the allowance of
// kept failed events is per conversation, and a push naming a one-to-one
// conversation bob has never seen ("bob:X" for any X) made its record.
// The server pushes one forged 64 KiB event into each of 96 invented
// conversations: each conversation's allowance had room for it, so
// spreading the forgeries over new ids multiplied the allowance without
// end. A failed event of a conversation not recorded is now not kept at
// all (pushed-forgeries-invent-conversations); the failed events kept
// across all conversations are bounded too (for peers the server
// fabricates: TestFailedEventsEngineAllowance).
func attackPushedFailedEventsAcrossInventedConversations(w *world) (string, error) {
	bob, _, err := pushIntoInvented(w, inventedConversations, session.WithMaxFailedEvents(failedAllowance/4, 1<<30))
	if err != nil {
		return "", err
	}
	convs, err := bob.e.Conversations(w.ctx)
	if err != nil {
		return "", err
	}
	kept := 0
	for _, c := range convs {
		n, err := failedKept(w.ctx, bob, c.ID)
		if err != nil {
			return "", err
		}
		kept += n
	}
	// The engine keeps 16 conversations' allowances in all.
	if limit := 16 * failedAllowance / 4; kept > limit {
		return "", errorf("%d forged pushes into %d invented conversations kept %d failed events (%d KiB); the engine keeps %d in all", inventedConversations, len(convs)-1, kept, kept*failedPad>>10, limit)
	}
	return fmt.Sprintf("%d forged pushes into invented conversations: %d failed events kept across %d conversation records", inventedConversations, kept, len(convs)), nil
}

// pushIntoInvented has the server push one forged 64 KiB event (alice's
// message to bob with its ciphertext replaced) into each of n invented
// one-to-one conversations of bob's ("bob:X"), after bob synced his real
// conversation with alice (cid).
func pushIntoInvented(w *world, n int, opts ...session.Option) (bob *user, cid string, err error) {
	alice := w.newUser("alice", false)
	bob = w.newUser("bob", true, opts...)
	sent := alice.send(bob.id, "m1")
	cid = sent[0].ConversationID
	if r := bob.sync(cid); r.err != nil {
		return nil, "", r.err
	}
	model, err := serverEvent(w, bob, cid, sent[0].MessageID)
	if err != nil {
		return nil, "", err
	}
	for i := range n {
		fake, err := session.CanonicalID(fmt.Sprintf("%s:%d", bob.id, 7_000_000_000+i), bob.id)
		if err != nil {
			return nil, "", err
		}
		forged := *model
		mce := *model.Detail.MessageCreateEvent
		mce.Contents = bytes.Repeat([]byte{byte(i)}, failedPad)
		det := *model.Detail
		det.MessageCreateEvent = &mce
		forged.Detail = &det
		forged.ConversationID = strp(fake)
		forged.MessageID = strp(fmt.Sprintf("forged-%d", i))
		ev, err := pushOf(bob, fmt.Sprintf("invented-%d", i), &forged, "", nil)
		if err != nil {
			return nil, "", err
		}
		if _, _, err := bob.deliver(ev); err != nil {
			return nil, "", errorf("push %d: %w", i, err)
		}
	}
	return bob, cid, nil
}

// attackPushedForgeriesInventConversations: a push naming a one-to-one
// conversation bob has never seen made its record before its event was
// judged, and so did the sync Reconcile then ran for it (the server
// answering 404). The server pushes one forged event into each of 32
// invented conversations: each became a conversation in bob's list, and
// every later SyncAll synced each. A conversation is recorded once the
// server answers for it or something of it is stored; a failed event of
// a conversation not held is handed over but not kept.
func attackPushedForgeriesInventConversations(w *world) (string, error) {
	const n = 32
	bob, cid, err := pushIntoInvented(w, n)
	if err != nil {
		return "", err
	}
	if _, err := bob.e.Reconcile(w.ctx, nil); err != nil && !errors.Is(err, api.ErrNotFound) {
		return "", err
	}
	convs, err := bob.e.Conversations(w.ctx)
	if err != nil {
		return "", err
	}
	if len(convs) != 1 || convs[0].ID != cid {
		return "", errorf("%d forged pushes into invented conversations left bob %d conversations (want only %s)", n, len(convs), cid)
	}
	return fmt.Sprintf("%d forged pushes into invented conversations: bob holds 1 conversation", n), nil
}

// failedKept counts the failed events u's store holds for cid.
func failedKept(ctx context.Context, u *user, cid string) (int, error) {
	h, err := u.e.History(ctx, cid, "", 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, en := range h {
		if en.Error != "" {
			n++
		}
	}
	return n, nil
}

// emptyObjects returns a JSON array of n empty objects: three bytes of
// answer each, which decode into a Problem (over 150 bytes) each.
func emptyObjects(n int) []byte {
	b := make([]byte, 0, 3*n+2)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "{}"...)
	}
	return append(b, ']')
}

// floodProblems is how many empty problems the flood attacks send: 12 MiB
// of answer, under the client's 16 MiB response limit.
const floodProblems = 4 << 20

// maxProblemsHeld bounds the problems an answer may make the client hold:
// far above the few an honest answer lists (the client refuses an answer
// past api.MaxResponseObjects whole).
const maxProblemsHeld = 1 << 10

// attackAnswerEmptyProblemFlood: the server answers bob's conversation
// listing 200 with an "errors" array of four million empty objects (12
// MiB). Decoded, each is a Problem of some 150 bytes: the client held
// over 600 MB for one answer, and a PartialError carrying them all.
func attackAnswerEmptyProblemFlood(w *world) (string, error) {
	bob := w.newUser("bob", true)
	body := append(append([]byte(`{"data":[],"meta":{"result_count":0},"errors":`), emptyObjects(floodProblems)...), '}')
	w.proxy.Add(hostile.Rule{Name: "flood", Method: http.MethodGet, Path: hostile.PathConversations,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusOK, body
			resp.Header.Set("Content-Type", "application/json")
			return nil
		}})
	_, err := bob.e.RefreshConversations(w.ctx)
	if err == nil {
		return "", errorf("the listing of %d empty problems was accepted", floodProblems)
	}
	var pe *api.PartialError
	if errors.As(err, &pe) && len(pe.Errors) > maxProblemsHeld {
		return "", errorf("the client decoded and holds %d problems of one answer (%d bytes)", len(pe.Errors), len(body))
	}
	return fmt.Sprintf("refused: %.160v", err), nil
}

// attackErrorBodyEmptyProblemFlood: the server answers bob's send 503
// with a body of four million empty objects under "errors". The client
// decodes every error body into an ErrorDocument: each object became an
// ErrorListItem (some 170 bytes), and the *api.Error carried them all.
func attackErrorBodyEmptyProblemFlood(w *world) (string, error) {
	d := newDM(w)
	body := append(append([]byte(`{"errors":`), emptyObjects(floodProblems)...), '}')
	w.proxy.Add(hostile.Rule{Name: "flood", Method: http.MethodPost, Path: hostile.PathMessages,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusServiceUnavailable, body
			resp.Header.Set("Content-Type", "application/problem+json")
			return nil
		}})
	_, serr := d.bob.e.SendText(w.ctx, d.alice.id, "reply")
	if serr == nil {
		return "", errorf("the send succeeded against a 503")
	}
	var ae *api.Error
	if errors.As(serr, &ae) && len(ae.Errors) > maxProblemsHeld {
		return "", errorf("the client decoded and holds %d problems of one error body (%d bytes)", len(ae.Errors), len(body))
	}
	return fmt.Sprintf("send failed, error body not held: %.160v", serr), nil
}

// attackStreamProblemFlood: the Activity stream's server sends one line
// (under the 1 MiB line limit) of 300,000 empty problems. Each became a
// Problem of some 150 bytes (45 MB for one line) and the stream's problem
// status carried them all, its text joining every one.
func attackStreamProblemFlood(w *world) (string, error) {
	bob := w.newUser("bob", true)
	line := append(append([]byte(`{"errors":`), emptyObjects(300_000)...), "}\r\n"...)
	w.proxy.Add(hostile.Rule{Name: "flood", Method: http.MethodGet, Path: `/2/activity/stream`,
		Request: func(r *http.Request) { r.Header.Del("Authorization") },
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status = http.StatusOK
			resp.Header = http.Header{"Content-Type": {"application/json"}}
			resp.Body = line
			return nil
		}})
	clk := &waitClock{now: time.Unix(1_800_000_000, 0)}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var mu sync.Mutex
	held, textLen, waits, skipped := 0, 0, 0, 0
	s, err := bob.client.ActivityStream(ctx, &api.StreamOptions{Clock: clk, OnStatus: func(st api.StreamStatus) {
		mu.Lock()
		defer mu.Unlock()
		var pe *api.StreamProblemError
		if errors.As(st.Err, &pe) {
			held = max(held, len(pe.Problems))
			textLen = max(textLen, len(pe.Error()))
		}
		if st.State == api.StreamSkipped {
			skipped++
		}
		if st.State == api.StreamWaiting {
			if waits++; waits == 2 {
				cancel()
			}
		}
	}})
	if err != nil {
		return "", err
	}
	<-s.Done()
	mu.Lock()
	defer mu.Unlock()
	if held > api.MaxStreamProblems || textLen > maxServerErrorText {
		return "", errorf("one stream line made the client hold %d problems, its error text %d bytes", held, textLen)
	}
	return fmt.Sprintf("problem line of %d bytes: %d lines skipped, %d problems held, error text %d bytes", len(line), skipped, held, textLen), nil
}

// serverEvent returns the event with message id mid of conversation cid
// as the server holds it, read as u.
func serverEvent(w *world, u *user, cid, mid string) (*tevent.MessageEvent, error) {
	var model *tevent.MessageEvent
	for _, me := range w.serverEvents(u, api.ConversationPathID(cid)) {
		if me.GetMessageID() == mid {
			model = me
		}
	}
	if model == nil {
		return nil, errorf("message not on the server")
	}
	return model, nil
}
