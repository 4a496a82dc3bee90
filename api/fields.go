package api

import "slices"

// Allowed values of the fields and expansions query parameters, from the
// specification. The client rejects other values before sending.
var (
	ChatConversationFields = []string{
		"created_at", "group_avatar_url", "group_name", "id", "is_muted", "message_ttl_ms",
		"screen_capture_blocking_enabled", "screen_capture_detection_enabled", "type", "updated_at",
	}
	ChatConversationExpansions = []string{"admin_ids", "member_ids", "participant_ids"}
	// ChatMessageEventFields is the specification's enum, and only it: a
	// server validating the parameter against the specification rejects
	// anything else. X's events page (seed 003) lists created_at_msec
	// instead of created_at; clients that must work with both ask for
	// neither (the Thrift encoded_event carries created_at_msec, signed).
	// Responses may still carry sequence_id, previous_sequence_id and
	// created_at_msec (seed 003); ChatMessageEvent decodes them.
	ChatMessageEventFields = []string{
		"conversation_id", "conversation_token", "created_at", "encoded_event", "id", "is_trusted",
		"message_event_signature", "previous_id", "sender_id",
	}
	DmEventFields     = []string{"attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "text"}
	DmEventExpansions = []string{"attachments.media_keys", "participant_ids", "referenced_posts", "sender_id"}
	UserFields        = []string{
		"confirmed_email", "connection_status", "created_at", "description", "entities", "id",
		"is_identity_verified", "location", "name", "parody", "profile_banner_url", "profile_image_url",
		"protected", "public_metrics", "receives_your_dm", "subscribes_to_you", "subscription",
		"subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld",
	}
	PostFields = []string{
		"article", "article_title", "attachments", "card_uri", "community_id", "context_annotations",
		"conversation_id", "created_at", "display_text_range", "edit_controls", "entities", "geo", "id",
		"lang", "matched_media_notes", "media_metadata", "non_public_metrics", "note_post",
		"note_request_suggestions", "organic_metrics", "paid_partnership", "possibly_sensitive",
		"promoted_metrics", "public_metrics", "reply_settings", "scopes", "source",
		"suggested_source_links", "suggested_source_links_with_counts", "text", "withheld",
	}
	MediaFields = []string{
		"alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
		"preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
	}
	// PublicKeyFields lists the public_key.fields values.
	PublicKeyFields = []string{
		"identity_public_key_signature", "juicebox_config", "public_key",
		"public_key_version", "signing_public_key",
	}
)

// checkEnumList validates a comma-joined list parameter: known values, no
// duplicates.
func checkEnumList(param string, vals, allowed []string) error {
	seen := make(map[string]bool, len(vals))
	for _, v := range vals {
		if !slices.Contains(allowed, v) {
			return invalid(param+" value", v, "not allowed by the specification")
		}
		if seen[v] {
			return invalid(param+" value", v, "duplicate")
		}
		seen[v] = true
	}
	return nil
}
