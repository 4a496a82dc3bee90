package attacks

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
)

// Attacks on the guesses a restore spends: every Recover2 that reaches a
// realm costs one, whatever becomes of its answer.

var backupGuessAttacks = []attack{
	{"backup-dropped-answers-spend-guesses", attackBackupDroppedAnswersSpendGuesses},
}

// failGuessAnswers answers 503, after the realm has processed it, every
// request to realm name that may carry a Recover2: a software realm's
// Recover2, a hardware realm's transport message (Recover1 goes in the
// handshake; Recover2 and Recover3 in the session).
func failGuessAnswers(name string, hardware bool) hostile.Rule {
	var guess bool // one realm's requests are sent one at a time
	return hostile.Rule{Name: "drop-" + name, Method: http.MethodPost, Path: realm.PathPrefix + name + "/req",
		Request: func(r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			if hardware {
				cr, err := proto.DecodeClientRequest(b)
				guess = err == nil && cr.Transport != nil
				return
			}
			q, err := proto.DecodeSecretsRequest(b)
			guess = err == nil && q.Kind == proto.Recover2
		},
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			if guess {
				resp.Status, resp.Body = http.StatusServiceUnavailable, nil
			}
			return nil
		}}
}

// attackBackupDroppedAnswersSpendGuesses: bob restores his backup with
// the right PIN. The network lets every Recover2 reach its realm (each
// costs a guess there) and answers 503 in its place. A client that
// retries such a request (as the SDK does: a hardware realm up to five
// times, a software realm twice) spends five guesses on each hardware
// realm per restore attempt: four attempts, with the right PIN, use up
// X's 20 and the realms destroy the backup.
func attackBackupDroppedAnswersSpendGuesses(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", errorf("setup: %v", err)
	}
	w.proxy.Add(failGuessAnswers("realm-b", false), failGuessAnswers("realm-east", true), failGuessAnswers("realm-west", true))
	_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt)
	if err == nil {
		return "", errorf("restore succeeded with every Recover2 answer dropped")
	}
	set := w.emu.Juicebox()
	var counts []string
	most := uint16(0)
	for _, r := range set.Realms() {
		n := r.Record(set.Tenant(), bob.id).GuessCount
		counts = append(counts, fmt.Sprintf("%s %d", r.Name(), n))
		most = max(most, n)
	}
	if most > 1 {
		return "", errorf("one restore attempt with the right PIN cost up to %d guesses on a realm (%v)", most, counts)
	}
	return fmt.Sprintf("one guess per realm for one attempt (%v); restore failed: %v", counts, err), nil
}
