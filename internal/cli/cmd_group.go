package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
)

func init() {
	register(&command{
		name:    "group create",
		summary: "create an encrypted group; prints its id",
		help: `Creates a group conversation with you and --members, generates its first
conversation key and wraps it to every member's pinned identity key. The
optional --name is encrypted under the group key. Prints the group id.`,
		example: "  xchat group create --members 1002,1003 --admins 1001,1002 --name \"Team\"",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			var members idList
			fs.Var(&members, "members", "comma-separated user `IDS` of the other members (required)")
			var admins idList
			fs.Var(&admins, "admins", "comma-separated user `IDS` of the admins (default: you)")
			name := fs.String("name", "", "group title `TITLE` (encrypted under the group key)")
			return func(ctx context.Context, a *app, _ []string) error {
				if err := checkIDs("group create", members); err != nil {
					return err
				}
				if len(admins) > 0 {
					if err := checkIDs("group create", admins); err != nil {
						return err
					}
				}
				e, err := a.openEngine(ctx, true)
				if err != nil {
					return err
				}
				gid, err := e.CreateGroup(ctx, session.GroupOptions{Members: members, Admins: admins, Title: *name})
				if err != nil {
					return fmt.Errorf("group create: %w", err)
				}
				return a.result(map[string]any{"conversation_id": gid, "members": []string(members)}, gid)
			}
		},
		result: true,
	})
	register(&command{
		name:    "group add",
		summary: "add members to a group (rotates the group key)",
		help: `Adds --members to the group and rotates its key: a fresh conversation key is
wrapped to every member, old and new.`,
		example: "  xchat group add --conversation g1234 --members 1004",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "group `ID` (required)")
			var members idList
			fs.Var(&members, "members", "comma-separated user `IDS` to add (required)")
			return func(ctx context.Context, a *app, _ []string) error {
				if err := checkIDs("group add", members); err != nil {
					return err
				}
				e, cid, err := a.engineFor(ctx, "group add", *conv)
				if err != nil {
					return err
				}
				if !session.IsGroup(cid) {
					return usagef("group add", "%s is not a group id", cid)
				}
				// Bring the roster and key up to date first.
				if _, err := e.Sync(ctx, cid, nil); err != nil {
					return notFound(cid, fmt.Errorf("group add: %w", err))
				}
				if err := e.AddMembers(ctx, cid, members...); err != nil {
					return notFound(cid, fmt.Errorf("group add: %w", err))
				}
				c, err := e.Conversation(ctx, cid)
				if err != nil {
					return err
				}
				a.infof("%s Added %d member(s) to %s; key rotated to version %s.", markOK, len(members), cid, c.KeyVersion)
				return a.result(map[string]any{"conversation_id": cid, "added": []string(members), "key_version": c.KeyVersion}, "")
			}
		},
		result: true,
	})
	register(&command{
		name:    "group rotate",
		summary: "rotate a conversation's key; prints the new version",
		help:    `Distributes a fresh conversation key to the current participants (groups and one-to-one conversations alike). Later messages use it.`,
		example: "  xchat group rotate --conversation g1234",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			return func(ctx context.Context, a *app, _ []string) error {
				e, cid, err := a.engineFor(ctx, "group rotate", *conv)
				if err != nil {
					return err
				}
				// The new key must reach the current roster: sync first.
				if _, err := e.Sync(ctx, cid, nil); err != nil {
					return notFound(cid, fmt.Errorf("group rotate: %w", err))
				}
				v, err := e.Rotate(ctx, cid)
				if err != nil {
					return notFound(cid, fmt.Errorf("group rotate: %w", err))
				}
				return a.result(map[string]string{"conversation_id": cid, "key_version": v}, v)
			}
		},
		result: true,
	})
}

func checkIDs(cmd string, ids []string) error {
	if len(ids) == 0 {
		return usagef(cmd, "--members is required")
	}
	for _, id := range ids {
		if api.ValidateUserID(id) != nil {
			return usagef(cmd, "invalid member id %q: not a numeric user id", id)
		}
	}
	return nil
}
