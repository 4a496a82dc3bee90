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

// User is the subset of the X API v2 User object that chat clients use.
type User struct {
	ID              string `json:"id"`
	Name            string `json:"name,omitempty"`
	Username        string `json:"username,omitempty"`
	CreatedAt       string `json:"created_at,omitempty"`
	Description     string `json:"description,omitempty"`
	ProfileImageURL string `json:"profile_image_url,omitempty"`
	Protected       bool   `json:"protected,omitempty"`
	Verified        bool   `json:"verified,omitempty"`
}

// Media is the subset of the X API v2 Media object referenced by DM events.
type Media struct {
	MediaKey        string `json:"media_key,omitempty"`
	Type            string `json:"type,omitempty"`
	URL             string `json:"url,omitempty"`
	PreviewImageURL string `json:"preview_image_url,omitempty"`
	AltText         string `json:"alt_text,omitempty"`
	Width           int    `json:"width,omitempty"`
	Height          int    `json:"height,omitempty"`
	DurationMS      int    `json:"duration_ms,omitempty"`
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
