package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/xchat-go/xchat/api"
)

// dmWarning is printed on stderr by every legacy DM command.
const dmWarning = "xchat: WARNING: legacy Direct Messages are NOT end-to-end encrypted: X's servers can read them. Use 'xchat send' for encrypted chat.\n"

func init() {
	register(&command{
		name:    "dm send",
		args:    "TEXT…",
		minArgs: 1, maxArgs: -1,
		summary: "send a legacy Direct Message (NOT end-to-end encrypted)",
		help: `Sends TEXT through the legacy Direct Message endpoints. These messages are NOT
end-to-end encrypted: the server stores and can read the plaintext. A warning
is printed on stderr every time. Prints the DM event id.`,
		example: "  xchat dm send --to 1002 \"this is not encrypted\"",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			to := fs.String("to", "", "recipient `USER_ID` (required)")
			return func(ctx context.Context, a *app, args []string) error {
				if api.ValidateUserID(*to) != nil {
					return usagef("dm send", "--to USER_ID is required (a numeric user id)")
				}
				text := strings.Join(args, " ")
				if strings.TrimSpace(text) == "" {
					return usagef("dm send", "nothing to send: the message is empty or only whitespace")
				}
				fmt.Fprint(a.env.Stderr, dmWarning)
				c, err := a.dmClient(ctx)
				if err != nil {
					return err
				}
				d, _, err := c.SendDmToParticipant(ctx, *to, &api.DmMessage{Text: text})
				if err != nil {
					return fmt.Errorf("dm send: %w", err)
				}
				// The id is the server's: neutralised, it cannot drive the terminal.
				return a.result(map[string]any{"dm_event_id": d.DmEventID, "dm_conversation_id": d.DmConversationID, "encrypted": false}, shown(d.DmEventID))
			}
		},
		result: true,
	})
	register(&command{
		name:    "dm list",
		summary: "list legacy Direct Messages (NOT end-to-end encrypted)",
		help: `Lists legacy Direct Message events, newest first (all, or the conversation
with --with USER_ID). These messages are NOT end-to-end encrypted and nothing
about them is verified.`,
		example: "  xchat dm list --with 1002",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			with := fs.String("with", "", "only the conversation with `USER_ID`")
			asJSON := fs.Bool("json", false, "print one JSON object per event")
			limit := fs.Int("limit", 50, "at most `N` events")
			return func(ctx context.Context, a *app, _ []string) error {
				if *with != "" && api.ValidateUserID(*with) != nil {
					return usagef("dm list", "invalid --with %q", *with)
				}
				if *limit <= 0 {
					return usagef("dm list", "--limit must be positive")
				}
				fmt.Fprint(a.env.Stderr, dmWarning)
				c, err := a.dmClient(ctx)
				if err != nil {
					return err
				}
				opts := &api.DmEventsOptions{DmEventFields: []string{"id", "text", "event_type", "created_at", "dm_conversation_id"},
					Expansions: []string{"sender_id"}}
				seq := c.DmEvents(ctx, opts)
				if *with != "" {
					seq = c.DmEventsWithParticipant(ctx, *with, opts)
				}
				n := 0
				for ev, err := range seq {
					if err != nil {
						return fmt.Errorf("dm list: %w", err)
					}
					if *asJSON {
						if err := writeJSONLine(a.env.Stdout, map[string]any{"id": ev.ID, "event_type": ev.EventType,
							"sender_id": ev.SenderID, "dm_conversation_id": ev.DmConversationID, "created_at": ev.CreatedAt,
							"text": ev.Text, "encrypted": false}); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(a.env.Stdout, shown(fmt.Sprintf("%s %s %s [NOT ENCRYPTED] %s", ev.ID, ev.CreatedAt, ev.SenderID, ev.Text)))
					}
					n++
					if n >= *limit {
						break
					}
				}
				return nil
			}
		},
	})
}

// dmClient is an API client for the legacy endpoints. With --token or
// XCHAT_TOKEN no account is needed; otherwise the login token is used.
func (a *app) dmClient(ctx context.Context) (*api.Client, error) {
	tok := a.g.token
	if tok == "" {
		tok = a.env.Getenv(EnvToken)
	}
	if tok != "" {
		base := a.explicitAPI()
		if base == "" {
			base = api.DefaultBaseURL
		}
		a.base = base
		return api.New(api.WithBaseURL(base), api.WithBearerToken(tok))
	}
	db, err := a.openStore(ctx, false)
	if err != nil {
		return nil, err
	}
	return a.newClient(ctx, db)
}
