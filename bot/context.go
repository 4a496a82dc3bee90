package bot

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Kind is what made a handler run.
type Kind int

// Kinds of Context.
const (
	KindCommand  Kind = iota // an addressed message naming a command
	KindMessage              // any other text message
	KindEdit                 // an edit
	KindReaction             // a reaction added or removed
	KindJoin                 // the bot was added to a group
)

// String names the kind.
func (k Kind) String() string {
	return [...]string{"command", "message", "edit", "reaction", "join"}[k]
}

// Context is one handler call: a verified event of a conversation and the
// means to answer in it. It is a context.Context (cancelled when the
// handler times out or the bot's shutdown gives up waiting), so it can be
// passed to any call that takes one. A Context is valid during its handler
// call only.
type Context struct {
	context.Context
	bot    *Bot
	kind   Kind
	entry  event.Entry
	p      parsed
	logger *slog.Logger
}

// Bot returns the bot.
func (c *Context) Bot() *Bot { return c.bot }

// Engine returns the bot's engine, for anything the Context does not
// offer.
func (c *Context) Engine() *session.Engine { return c.bot.e }

// Kind says what made the handler run.
func (c *Context) Kind() Kind { return c.kind }

// Conversation returns the canonical conversation id ("A:B" or "g…").
func (c *Context) Conversation() string { return c.entry.ConversationID }

// IsGroup reports whether the conversation is a group.
func (c *Context) IsGroup() bool { return session.IsGroup(c.entry.ConversationID) }

// Sender returns the user id that signed the event: verified against the
// sender's pinned key, never taken from the server's claims.
func (c *Context) Sender() string { return c.entry.SenderID }

// Entry returns the verified event as the engine stored it (a copy).
func (c *Context) Entry() event.Entry { return c.entry }

// SequenceID returns the event's position in the conversation.
func (c *Context) SequenceID() string { return c.entry.SequenceID }

// MessageID returns the event's signed message id.
func (c *Context) MessageID() string { return c.entry.MessageID }

// Text returns a message's text or an edit's new text.
func (c *Context) Text() string { return c.entry.Text }

// Command returns the command word, lower case, without prefix or
// mention ("" when the message is not a command).
func (c *Context) Command() string {
	if c.kind != KindCommand {
		return ""
	}
	return c.p.command
}

// Args returns the command's arguments split on white space (none when
// the message is not a command).
func (c *Context) Args() []string {
	if c.kind != KindCommand {
		return nil
	}
	return append([]string(nil), c.p.args...)
}

// RawArgs returns the text after the command word, trimmed ("" when the
// message is not a command).
func (c *Context) RawArgs() string {
	if c.kind != KindCommand {
		return ""
	}
	return c.p.rawArgs
}

// Mentioned reports whether the message starts with "@name" (WithName).
func (c *Context) Mentioned() bool { return c.p.mentioned }

// Target returns the sequence id an edit or reaction applies to.
func (c *Context) Target() string { return c.entry.TargetSequenceID }

// Reaction returns a reaction's emoji and whether it was removed.
func (c *Context) Reaction() (emoji string, removed bool) {
	return c.entry.Emoji, c.entry.Type == event.TypeReactionRemove
}

// Logger returns the bot's logger with the event's ids attached.
func (c *Context) Logger() *slog.Logger { return c.logger }

// Reply answers in the conversation. For a message it is a reply quoting
// it (recipients can check the quote: it embeds the signed original);
// otherwise a plain message.
func (c *Context) Reply(text string) (*session.Sent, error) {
	if c.entry.Type == event.TypeMessage {
		return c.bot.e.Send(c, c.entry.ConversationID, session.Outgoing{Text: text, ReplyTo: c.entry.SequenceID})
	}
	return c.Send(text)
}

// Send sends a plain message to the conversation.
func (c *Context) Send(text string) (*session.Sent, error) {
	return c.bot.e.SendText(c, c.entry.ConversationID, text)
}

// React adds emoji to the message that made the handler run (for an edit
// or a reaction: the message they apply to).
func (c *Context) React(emoji string) (*session.Sent, error) {
	target := c.entry.SequenceID
	if c.kind == KindEdit || c.kind == KindReaction {
		target = c.entry.TargetSequenceID
	}
	if c.kind == KindJoin || target == "" {
		return nil, ErrNotMessage
	}
	return c.bot.e.Send(c, c.entry.ConversationID, session.Outgoing{React: target, Emoji: emoji})
}

// Edit replaces the text of the bot's own message at sequence id seq
// (for example the SequenceID of a Sent from Reply).
func (c *Context) Edit(seq, text string) (*session.Sent, error) {
	return c.bot.e.Send(c, c.entry.ConversationID, session.Outgoing{Edit: seq, Text: text})
}

// Typing shows the bot as typing in the conversation.
func (c *Context) Typing() error { return c.bot.e.Typing(c, c.entry.ConversationID) }

// SafetyNumber returns the safety number of the bot and the sender (see
// session.Engine.SafetyNumber): the sender compares it out of band to
// authenticate the bot's keys.
func (c *Context) SafetyNumber() (string, error) {
	return c.bot.e.SafetyNumber(c, c.entry.SenderID)
}

// File is an attachment to send.
type File struct {
	// Name is shown to recipients.
	Name string
	// Data is the file's content.
	Data []byte
	// Type is the media type (0: guessed from Name's extension).
	Type event.MediaType
	// Caption is optional message text.
	Caption string
}

// SendFile encrypts f under the conversation key, uploads it and sends it
// as an attachment.
func (c *Context) SendFile(f File) (*session.Sent, error) {
	t := f.Type
	if t == 0 {
		t = event.MediaTypeOf(f.Name)
	}
	return c.bot.e.Send(c, c.entry.ConversationID, session.Outgoing{Text: f.Caption, Media: &session.Media{
		Data: bytes.NewReader(f.Data), Size: int64(len(f.Data)), Filename: f.Name, Type: t}})
}

// Media is an encrypted attachment of the message; nothing is downloaded
// until Download.
type Media struct {
	bot        *Bot
	conv       string
	keyVersion string
	att        event.MediaAttachment
}

// Name returns the file name the sender gave (unchecked).
func (m *Media) Name() string { return m.att.Filename }

// Type returns the media type the sender gave.
func (m *Media) Type() event.MediaType { return m.att.Type }

// Size returns the size the sender announced (the download is bounded by
// WithMaxMediaBytes, not by this claim).
func (m *Media) Size() int64 { return m.att.FilesizeBytes }

// Attachment returns the attachment's details.
func (m *Media) Attachment() event.MediaAttachment { return m.att }

// Download fetches the attachment and decrypts it with the conversation
// key its message was sealed under (authenticated decryption: altered
// bytes fail).
func (m *Media) Download(ctx context.Context) ([]byte, error) {
	att := m.att
	return m.bot.e.DownloadMedia(ctx, m.conv, &att, m.keyVersion, m.bot.cfg.maxMedia)
}

// Media returns the message's media attachments (none for other kinds).
func (c *Context) Media() []*Media {
	if c.entry.Type != event.TypeMessage {
		return nil
	}
	var out []*Media
	for _, a := range c.entry.Attachments {
		if a.Media != nil && a.Media.MediaHashKey != "" {
			out = append(out, &Media{bot: c.bot, conv: c.entry.ConversationID, keyVersion: c.entry.KeyVersion, att: *a.Media})
		}
	}
	return out
}
