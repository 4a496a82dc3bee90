package xchat_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/inbound"
)

// TestPipelineErrorsMatchTheirClass: every sentinel of the receive
// pipeline that can reach an app (in Event.Err, KeyChange.KeyErr or
// Event.Warnings) matches exactly one xchat sentinel, wrapped as the
// pipeline wraps it, and keeps matching itself.
func TestPipelineErrorsMatchTheirClass(t *testing.T) {
	want := map[error]error{
		inbound.ErrMalformed:            xchat.ErrMalformed,
		inbound.ErrMissingSignature:     xchat.ErrSignature,
		inbound.ErrUnknownSigningKey:    xchat.ErrSignature,
		inbound.ErrSignatureVersion:     xchat.ErrSignature,
		inbound.ErrBadSignature:         xchat.ErrSignature,
		inbound.ErrUnsignablePayload:    xchat.ErrSignature,
		inbound.ErrSigningKeyMismatch:   xchat.ErrSignature,
		inbound.ErrUnknownKeyVersion:    xchat.ErrUnknownKeyVersion,
		inbound.ErrDecrypt:              xchat.ErrDecrypt,
		inbound.ErrUnencrypted:          xchat.ErrDecrypt,
		inbound.ErrUnwrap:               xchat.ErrDecrypt,
		inbound.ErrWrongConversation:    xchat.ErrReplayed,
		inbound.ErrSenderNotParticipant: xchat.ErrNotMember,
		inbound.ErrNotParticipant:       xchat.ErrNotMember,
		inbound.ErrActorNotSender:       xchat.ErrNotAuthorized,
		inbound.ErrKeyConflict:          xchat.ErrKeyConflict,
	}
	family := sentinels(t)
	for fine, class := range want {
		err := fmt.Errorf("%w: detail", fine)
		if !errors.Is(err, fine) {
			t.Errorf("%v no longer matches itself", fine)
		}
		var matched []string
		for name, s := range family {
			if errors.Is(err, s) {
				matched = append(matched, name)
			}
		}
		if len(matched) != 1 || !errors.Is(err, class) {
			t.Errorf("%v matches %v, want only %v", fine, matched, class)
		}
	}
	uk := fmt.Errorf("wrapped: %w", &inbound.UnknownKeyError{ConversationID: "g1", Version: "1"})
	if !errors.Is(uk, xchat.ErrUnknownKeyVersion) || !errors.Is(uk, inbound.ErrUnknownKeyVersion) {
		t.Errorf("*UnknownKeyError does not match xchat.ErrUnknownKeyVersion")
	}
	// An xchat sentinel is not mistaken for a pipeline one.
	if errors.Is(xchat.ErrSignature, inbound.ErrBadSignature) || errors.Is(xchat.ErrNotAuthorized, xchat.ErrNotMember) {
		t.Error("sentinels match each other")
	}
}

// TestErrorTable: the package documentation's table names every sentinel
// of the family, each once, and nothing else.
func TestErrorTable(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "doc.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	start := strings.Index(doc, "# Errors")
	if start < 0 {
		t.Fatal("doc.go has no # Errors section")
	}
	rows := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\t(Err[A-Z][A-Za-z]+)\s`).FindAllStringSubmatch(doc[start:], -1) {
		rows[m[1]]++
	}
	family := sentinels(t)
	for name := range family {
		if rows[name] != 1 {
			t.Errorf("%s appears in %d rows of the table, want 1", name, rows[name])
		}
	}
	for name := range rows {
		if _, ok := family[name]; !ok {
			t.Errorf("the table names %s, which is not an xchat sentinel", name)
		}
	}
}

// sentinels returns the Err* variables declared in errors.go, by name.
func sentinels(t *testing.T) map[string]error {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]error{
		"ErrNoAccount": xchat.ErrNoAccount, "ErrAccountExists": xchat.ErrAccountExists, "ErrNotRegistered": xchat.ErrNotRegistered,
		"ErrClosed": xchat.ErrClosed, "ErrOffline": xchat.ErrOffline, "ErrInvalidArgument": xchat.ErrInvalidArgument,
		"ErrNoPeerKeys": xchat.ErrNoPeerKeys, "ErrKeyBinding": xchat.ErrKeyBinding, "ErrKeyChanged": xchat.ErrKeyChanged,
		"ErrUnverifiedPeer": xchat.ErrUnverifiedPeer, "ErrUnknownConversation": xchat.ErrUnknownConversation,
		"ErrNoConversationKey": xchat.ErrNoConversationKey, "ErrNotMember": xchat.ErrNotMember, "ErrRosterUnknown": xchat.ErrRosterUnknown,
		"ErrRosterUnconfirmed": xchat.ErrRosterUnconfirmed, "ErrQueued": xchat.ErrQueued, "ErrRejected": xchat.ErrRejected,
		"ErrAudienceGrew": xchat.ErrAudienceGrew,
		"ErrOutboxBusy":   xchat.ErrOutboxBusy, "ErrMediaTooLarge": xchat.ErrMediaTooLarge, "ErrKeyReplaced": xchat.ErrKeyReplaced, "ErrServerResponse": xchat.ErrServerResponse,
		"ErrMediaTruncated": xchat.ErrMediaTruncated, "ErrDeliveryRejected": xchat.ErrDeliveryRejected, "ErrMalformed": xchat.ErrMalformed,
		"ErrSignature": xchat.ErrSignature, "ErrUnknownKeyVersion": xchat.ErrUnknownKeyVersion, "ErrDecrypt": xchat.ErrDecrypt,
		"ErrNotAuthorized": xchat.ErrNotAuthorized, "ErrRosterDivergence": xchat.ErrRosterDivergence, "ErrReplayed": xchat.ErrReplayed,
		"ErrKeyConflict": xchat.ErrKeyConflict,
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Err") {
					declared = append(declared, n.Name)
				}
			}
		}
	}
	for _, name := range declared {
		if values[name] == nil {
			t.Fatalf("errors.go declares %s: add it to sentinels", name)
		}
	}
	for name := range values {
		if !slices.Contains(declared, name) {
			t.Fatalf("sentinels lists %s, which errors.go does not declare", name)
		}
	}
	return values
}
