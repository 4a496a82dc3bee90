package inbound

import (
	"testing"

	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// TestMapEachSkipsNil checks that entity and attachment lists drop nil
// elements (a peer can send them) and that an absent list stays nil.
func TestMapEachSkipsNil(t *testing.T) {
	if got := mapEntities(nil); got != nil {
		t.Fatalf("mapEntities(nil) = %#v, want nil", got)
	}
	if got := mapAttachments([]*product.MessageAttachment{}); got != nil {
		t.Fatalf("mapAttachments(empty) = %#v, want nil", got)
	}
	ents := mapEntities([]*product.RichTextEntity{nil, urlEntity(2, 5), nil})
	if len(ents) != 1 || ents[0] != (event.Entity{Start: 2, End: 5, Type: event.EntityURL}) {
		t.Fatalf("entities = %#v", ents)
	}
	atts := mapAttachments([]*product.MessageAttachment{nil, nil})
	if atts == nil || len(atts) != 0 {
		t.Fatalf("all-nil attachments = %#v, want empty", atts)
	}
	atts = mapAttachments([]*product.MessageAttachment{postAttachment("42"), nil})
	if len(atts) != 1 || atts[0].Kind != event.AttachmentPost || atts[0].Post.RestID != "42" {
		t.Fatalf("attachments = %#v", atts)
	}
}
