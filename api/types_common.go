package api

import "encoding/json"

// Expansions is the "includes" object of responses that support expansions.
// Only users and media are typed; other expanded objects are kept verbatim.
type Expansions struct {
	Users  []User            `json:"users,omitempty"`
	Media  []Media           `json:"media,omitempty"`
	Posts  []json.RawMessage `json:"posts,omitempty"`
	Places []json.RawMessage `json:"places,omitempty"`
	Polls  []json.RawMessage `json:"polls,omitempty"`
	Topics []json.RawMessage `json:"topics,omitempty"`
}

// User is the X API v2 User object with every property of the
// specification. Booleans are pointers: absent (not requested) is not
// false. Object-valued properties are kept as raw JSON, so nothing a
// server answers for a requested user.fields value is dropped.
type User struct {
	ID                     string          `json:"id"`
	Name                   string          `json:"name,omitempty"`
	Username               string          `json:"username,omitempty"`
	Affiliation            json.RawMessage `json:"affiliation,omitempty"`
	ConfirmedEmail         string          `json:"confirmed_email,omitempty"`
	ConnectionStatus       []string        `json:"connection_status,omitempty"`
	CreatedAt              string          `json:"created_at,omitempty"`
	Description            string          `json:"description,omitempty"`
	Entities               json.RawMessage `json:"entities,omitempty"`
	IsIdentityVerified     *bool           `json:"is_identity_verified,omitempty"`
	Location               string          `json:"location,omitempty"`
	MostRecentPostID       string          `json:"most_recent_post_id,omitempty"`
	Parody                 *bool           `json:"parody,omitempty"`
	PinnedPostID           string          `json:"pinned_post_id,omitempty"`
	ProfileBannerURL       string          `json:"profile_banner_url,omitempty"`
	ProfileImageURL        string          `json:"profile_image_url,omitempty"`
	Protected              *bool           `json:"protected,omitempty"`
	PublicMetrics          json.RawMessage `json:"public_metrics,omitempty"`
	ReceivesYourDM         *bool           `json:"receives_your_dm,omitempty"`
	SubscribesToYou        *bool           `json:"subscribes_to_you,omitempty"`
	Subscription           json.RawMessage `json:"subscription,omitempty"`
	SubscriptionType       string          `json:"subscription_type,omitempty"`
	URL                    string          `json:"url,omitempty"`
	Verified               *bool           `json:"verified,omitempty"`
	VerifiedFollowersCount *int64          `json:"verified_followers_count,omitempty"`
	VerifiedType           string          `json:"verified_type,omitempty"`
	Withheld               json.RawMessage `json:"withheld,omitempty"`
}

// Media is the X API v2 Media object with every property of the
// specification; metrics and variants are kept as raw JSON.
type Media struct {
	MediaKey         string          `json:"media_key,omitempty"`
	Type             string          `json:"type,omitempty"`
	URL              string          `json:"url,omitempty"`
	PreviewImageURL  string          `json:"preview_image_url,omitempty"`
	AltText          string          `json:"alt_text,omitempty"`
	Width            *int64          `json:"width,omitempty"`
	Height           *int64          `json:"height,omitempty"`
	DurationMS       *int64          `json:"duration_ms,omitempty"`
	NonPublicMetrics json.RawMessage `json:"non_public_metrics,omitempty"`
	OrganicMetrics   json.RawMessage `json:"organic_metrics,omitempty"`
	PromotedMetrics  json.RawMessage `json:"promoted_metrics,omitempty"`
	PublicMetrics    json.RawMessage `json:"public_metrics,omitempty"`
	Variants         json.RawMessage `json:"variants,omitempty"`
}

// ProvisionUserRequest is the body of the emulator's provisioning endpoint
// POST /emulator/v1/users (not part of the X API).
type ProvisionUserRequest struct {
	Username string `json:"username"`
}

// ProvisionUserResponse is the 201 body of POST /emulator/v1/users. The
// app fields are the credentials of the emulator's one developer app,
// which every provisioned account has authorised: the app-only bearer
// token opens the Activity stream and manages webhooks, the consumer
// secret answers webhook CRCs and verifies X-Twitter-Webhooks-Signature,
// the client secret verifies X-Twitter-Webhooks-Signature-OAuth2.
type ProvisionUserResponse struct {
	ID             string `json:"id"`
	Username       string `json:"username"`
	AccessToken    string `json:"access_token"`
	AppBearerToken string `json:"app_bearer_token,omitempty"`
	ConsumerSecret string `json:"consumer_secret,omitempty"`
	ClientSecret   string `json:"client_secret,omitempty"`
}
