package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Verification marks.
const (
	markOK   = "✓"
	markFail = "✗"
)

// jsonEvent is the stable JSON form of one event printed by read --json and
// watch --json (one object per line, oldest first).
type jsonEvent struct {
	ConversationID string `json:"conversation_id"`
	SequenceID     string `json:"sequence_id"`
	MessageID      string `json:"message_id"`
	SenderID       string `json:"sender_id"`
	// SenderUsername is the @username the server gives for SenderID, when
	// known (unsigned: shown, never trusted).
	SenderUsername string `json:"sender_username,omitempty"`
	Type           string `json:"type"`
	CreatedAt      string `json:"created_at,omitempty"`
	// Text is present for messages (possibly empty) and edits.
	Text *string `json:"text,omitempty"`
	// Verified is true only for events whose signature and keys checked
	// out; Error then is empty.
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`

	ReplyTo          *event.Reply     `json:"reply_to,omitempty"`
	Emoji            string           `json:"emoji,omitempty"`
	TargetSequenceID string           `json:"target_sequence_id,omitempty"`
	KeyVersion       string           `json:"key_version,omitempty"`
	Attachments      []jsonAttachment `json:"attachments,omitempty"`
	Deleted          []string         `json:"deleted,omitempty"`
	DeleteForAll     bool             `json:"delete_for_all,omitempty"`
	Group            *jsonGroup       `json:"group,omitempty"`
	Failure          string           `json:"failure,omitempty"`
}

type jsonAttachment struct {
	Kind      string `json:"kind"`
	MediaType string `json:"media_type,omitempty"`
	Filename  string `json:"filename,omitempty"`
	// Size is the decrypted (plaintext) size in bytes; EncryptedSize the
	// size of the uploaded blob the attachment announces.
	Size          int64  `json:"size,omitempty"`
	EncryptedSize int64  `json:"encrypted_size,omitempty"`
	Width         int64  `json:"width,omitempty"`
	Height        int64  `json:"height,omitempty"`
	MediaHashKey  string `json:"media_hash_key,omitempty"`
}

// jsonGroup is a group change. The title is left out: group changes carry
// it encrypted (see 'xchat conversations' for the decrypted title).
type jsonGroup struct {
	Change    string   `json:"change"`
	MemberIDs []string `json:"member_ids,omitempty"`
	AdminIDs  []string `json:"admin_ids,omitempty"`
}

// errNotVerified is the error text of an unverified event that carries no
// reason of its own.
const errNotVerified = "not verified"

func toJSONEvent(e *event.Entry) jsonEvent {
	j := jsonEvent{
		ConversationID:   e.ConversationID,
		SequenceID:       e.SequenceID,
		MessageID:        e.MessageID,
		SenderID:         e.SenderID,
		Type:             e.Type,
		Verified:         e.Verified,
		Error:            e.Error,
		ReplyTo:          e.ReplyTo,
		Emoji:            e.Emoji,
		TargetSequenceID: e.TargetSequenceID,
		KeyVersion:       e.KeyVersion,
		Deleted:          e.Deleted,
		DeleteForAll:     e.DeleteForAll,
		Failure:          e.Failure,
	}
	if !e.CreatedAt.IsZero() {
		j.CreatedAt = e.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if !e.Verified && j.Error == "" {
		j.Error = errNotVerified
	}
	if e.Type == event.TypeMessage || e.Type == event.TypeEdit {
		t := e.Text
		j.Text = &t
	}
	for _, a := range e.Attachments {
		ja := jsonAttachment{Kind: a.Kind.String()}
		if m := a.Media; m != nil {
			ja.MediaType = m.Type.String()
			ja.Filename = m.Filename
			ja.Size, ja.EncryptedSize = plaintextSize(m.FilesizeBytes), m.FilesizeBytes
			ja.Width, ja.Height = m.Width, m.Height
			ja.MediaHashKey = m.MediaHashKey
		}
		j.Attachments = append(j.Attachments, ja)
	}
	if g := e.Group; g != nil {
		j.Group = &jsonGroup{Change: g.Kind.String(), MemberIDs: g.MemberIDs, AdminIDs: g.AdminIDs}
	}
	return j
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// plaintextSize is the decrypted size of an attachment whose blob is enc
// bytes (the announced size itself when it is not a valid stream size).
func plaintextSize(enc int64) int64 {
	if n := secretstream.PlaintextSize(enc); n >= 0 {
		return n
	}
	return enc
}

// humanEntry renders one entry as a line for people. An unverified event's
// content is never shown: only the reason it failed. Every field may come
// from a hostile peer or server, so the whole line is neutralised. names
// maps user ids to usernames shown next to them (may be nil).
func humanEntry(e *event.Entry, self string, names map[string]string) string {
	return oneLine(humanEntryRaw(e, self, names))
}

func humanEntryRaw(e *event.Entry, self string, names map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%s", e.SequenceID)
	if !e.CreatedAt.IsZero() {
		fmt.Fprintf(&b, " %s", e.CreatedAt.Local().Format("2006-01-02 15:04:05"))
	}
	sender := shown(e.SenderID)
	if sender == "" {
		sender = "?"
	} else if sender == self {
		sender += " (you)"
	} else if n, ok := names[sender]; ok {
		sender += " (@" + n + ")"
	}
	if e.Type == keystore.DamagedType {
		fmt.Fprintf(&b, " %s NOT READABLE: the stored record is damaged (%s); 'xchat read' cannot show it", markFail, shown(cleanStored(e.Error)))
		return b.String()
	}
	if !e.Verified {
		reason := e.Error
		if reason == "" {
			reason = errNotVerified
		}
		fmt.Fprintf(&b, " %s %s  NOT VERIFIED (%s): %s", markFail, sender, shown(e.Type), shown(reason))
		return b.String()
	}
	fmt.Fprintf(&b, " %s %s  ", markOK, sender)
	switch e.Type {
	case event.TypeMessage:
		if r := e.ReplyTo; r != nil {
			fmt.Fprintf(&b, "↳ reply to #%s %q [preview %s]: ", shown(r.SequenceID), truncate(shown(r.Text), 40), r.Validation)
		}
		b.WriteString(shown(e.Text))
		for _, a := range e.Attachments {
			if m := a.Media; m != nil {
				name := shown(m.Filename)
				if name == "" {
					name = "(unnamed)"
				}
				fmt.Fprintf(&b, " [%s %s, %d bytes; xchat media get --conversation %s %s]", m.Type, name, plaintextSize(m.FilesizeBytes), e.ConversationID, e.SequenceID)
			} else {
				fmt.Fprintf(&b, " [%s attachment]", a.Kind)
			}
		}
	case event.TypeReactionAdd:
		fmt.Fprintf(&b, "reacted %s to #%s", shown(e.Emoji), shown(e.TargetSequenceID))
	case event.TypeReactionRemove:
		fmt.Fprintf(&b, "removed reaction %s from #%s", shown(e.Emoji), shown(e.TargetSequenceID))
	case event.TypeEdit:
		fmt.Fprintf(&b, "edited #%s: %s", shown(e.TargetSequenceID), shown(e.Text))
	case event.TypeKeyChange:
		fmt.Fprintf(&b, "conversation key changed (version %s)", shown(e.KeyVersion))
		if e.DecryptOnly != "" {
			fmt.Fprintf(&b, " [decrypt only: %s]", strings.ReplaceAll(e.DecryptOnly, "_", " "))
		}
	case event.TypeGroupChange:
		if g := e.Group; g != nil {
			fmt.Fprintf(&b, "group %s", strings.ReplaceAll(g.Kind.String(), "_", " "))
			if len(g.MemberIDs) > 0 {
				fmt.Fprintf(&b, ": members %s", shown(strings.Join(g.MemberIDs, ",")))
			}
		} else {
			b.WriteString("group change")
		}
	case event.TypeDelete:
		scope := "for themselves"
		if e.DeleteForAll {
			scope = "for everyone"
		}
		fmt.Fprintf(&b, "deleted #%s %s", shown(strings.Join(e.Deleted, ", #")), scope)
	default:
		b.WriteString(shown(e.Type))
		if e.Failure != "" {
			fmt.Fprintf(&b, " (%s)", shown(e.Failure))
		}
	}
	return b.String()
}

// keyChangeBanner is the loud notice of a peer key change.
func keyChangeBanner(kc session.KeyChanged) string {
	var b strings.Builder
	switch kc.Kind {
	case session.KeyBackdated, session.KeyImplausible:
		why := "older than the version already pinned, published after it"
		if kc.Kind == session.KeyImplausible {
			why = "further in the future than any clock allows"
		}
		fmt.Fprintf(&b, "xchat: WARNING: the server published keys for user %s at version %s, %s.\n", kc.UserID, kc.New.Version, why)
		fmt.Fprintf(&b, "  fingerprint: %s. They were REFUSED: nothing signed with them verifies. The server may be trying to impersonate %s.\n", kc.New.Fingerprint, kc.UserID)
		return b.String()
	case session.KeySkipped:
		fmt.Fprintf(&b, "xchat: WARNING: user %s published keys at version %s and newer ones at once (fingerprint %s).\n", kc.UserID, kc.New.Version, kc.New.Fingerprint)
		fmt.Fprintf(&b, "  Messages signed with them verify, but no pin vouched for them: compare safety numbers with 'xchat keys verify %s'.\n", kc.UserID)
		return b.String()
	}
	fmt.Fprintf(&b, "xchat: WARNING: the encryption keys of user %s HAVE CHANGED.\n", kc.UserID)
	if kc.Old != nil {
		fmt.Fprintf(&b, "  old fingerprint: %s (version %s)\n", kc.Old.Fingerprint, kc.Old.Version)
	}
	if kc.New != nil {
		fmt.Fprintf(&b, "  new fingerprint: %s (version %s)\n", kc.New.Fingerprint, kc.New.Version)
	}
	if kc.Pinned {
		fmt.Fprintf(&b, "  New messages are encrypted to the new keys. If %s did not reinstall or change devices,\n  someone may be impersonating them: compare safety numbers with 'xchat keys verify %s'.\n", kc.UserID, kc.UserID)
	} else {
		fmt.Fprintf(&b, "  The new keys are NOT trusted: nothing is encrypted to them until you run 'xchat keys verify %s'.\n", kc.UserID)
	}
	return b.String()
}

// oneLine replaces line breaks, control characters, Unicode bidi controls
// and line/paragraph separators so one event stays on one line, in the
// order it was written, and a message cannot forge terminal output.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || layoutControl(r):
			return '�'
		}
		return r
	}, s)
}

// layoutControl reports the Unicode characters that reorder or break a
// line wherever they stand: the bidi embeddings, overrides, isolates and
// marks (a "file.exe" can be made to read "exe.file", a line's start to
// move), and the line and paragraph separators.
func layoutControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// verdictLookalikes are the CLI's verdict marks and the glyphs a terminal
// draws like them.
const verdictLookalikes = markOK + markFail + "\u2714\u2718\u221a\U0001F5F8"

// shown neutralises text a peer signed or a server sent for an event line
// (see oneLine), and replaces the verdict marks and their look-alikes: only
// the CLI's own judgement shows ✓ or ✗, once at the start of the line, so
// text padded to wrap onto the next row cannot pass for another sender's
// verified line.
func shown(s string) string {
	return oneLine(strings.Map(func(r rune) rune {
		if strings.ContainsRune(verdictLookalikes, r) {
			return '�'
		}
		return r
	}, s))
}

// cleanStored shortens a keystore record error for display.
func cleanStored(s string) string {
	return strings.TrimPrefix(cleanMessage(s), "corrupt or tampered data: ")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
