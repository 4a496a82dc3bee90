package api

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// WebhookConfig is a registered webhook (the specification's
// WebhookConfig).
type WebhookConfig struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	Valid     bool   `json:"valid"`
	CreatedAt string `json:"created_at,omitempty"`
}

// CreateWebhookRequest is the body of POST /2/webhooks.
type CreateWebhookRequest struct {
	URL string `json:"url"`
}

// CreateWebhookResponse answers createWebhooks. X runs a CRC against the
// URL before answering; Valid reports whether it passed.
type CreateWebhookResponse struct {
	Data   *WebhookConfig `json:"data,omitempty"`
	Errors []Problem      `json:"errors,omitempty"`
}

// WebhooksMeta is the meta object of getWebhooks.
type WebhooksMeta struct {
	ResultCount int `json:"result_count"`
}

// GetWebhooksResponse answers getWebhooks.
type GetWebhooksResponse struct {
	Data   []WebhookConfig `json:"data"`
	Meta   *WebhooksMeta   `json:"meta,omitempty"`
	Errors []Problem       `json:"errors,omitempty"`
}

// WebhookValidity is the data of validateWebhooks.
type WebhookValidity struct {
	Valid bool `json:"valid"`
}

// ValidateWebhookResponse answers validateWebhooks (PUT /2/webhooks/{id}).
type ValidateWebhookResponse struct {
	Data   *WebhookValidity `json:"data,omitempty"`
	Errors []Problem        `json:"errors,omitempty"`
}

// DeleteWebhookResponse answers deleteWebhooks.
type DeleteWebhookResponse struct {
	Data   *Deleted  `json:"data,omitempty"`
	Errors []Problem `json:"errors,omitempty"`
}

// WebhookReplayRequest is the body of POST /2/webhooks/replay. FromDate and
// ToDate are UTC "yyyymmddhhmm" (see ReplayTime), inclusive, at most 24
// hours back.
type WebhookReplayRequest struct {
	WebhookID string `json:"webhook_id"`
	FromDate  string `json:"from_date"`
	ToDate    string `json:"to_date"`
}

// WebhookReplayJob is the data of createWebhookReplayJob.
type WebhookReplayJob struct {
	JobID     string `json:"job_id"`
	CreatedAt string `json:"created_at"`
}

// WebhookReplayResponse answers createWebhookReplayJob.
type WebhookReplayResponse struct {
	Data   *WebhookReplayJob `json:"data,omitempty"`
	Errors []Problem         `json:"errors,omitempty"`
}

// ReplayTimeLayout is the time layout of replay from_date and to_date.
const ReplayTimeLayout = "200601021504"

// ReplayTime formats t (in UTC) for a replay request.
func ReplayTime(t time.Time) string { return t.UTC().Format(ReplayTimeLayout) }

// ParseReplayTime parses a replay from_date or to_date (UTC).
func ParseReplayTime(s string) (time.Time, error) {
	if len(s) != len(ReplayTimeLayout) {
		return time.Time{}, invalid("replay time", s, "must be yyyymmddhhmm")
	}
	t, err := time.ParseInLocation(ReplayTimeLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, invalid("replay time", s, "must be yyyymmddhhmm")
	}
	return t, nil
}

// CreateWebhook registers a webhook URL (createWebhooks). X requires an
// HTTPS URL without a port that answers the CRC (see WebhookReceiver); the
// local emulator also accepts loopback http URLs with a port.
func (c *Client) CreateWebhook(ctx context.Context, rawURL string) (*CreateWebhookResponse, *Response, error) {
	if err := checkWebhookURL(rawURL); err != nil {
		return nil, nil, err
	}
	out := new(CreateWebhookResponse)
	resp, err := c.do(ctx, &request{op: OpCreateWebhooks, path: PathWebhooks(), body: &CreateWebhookRequest{URL: rawURL}}, out)
	return result(out, resp, err)
}

func checkWebhookURL(raw string) error {
	if raw == "" || len(raw) > WebhookURLMaxLength {
		return invalid("webhook url", raw, fmt.Sprintf("must be 1..%d characters", WebhookURLMaxLength))
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("webhook url", raw, "must be an absolute http(s) URL")
	}
	return nil
}

// ListWebhooks lists the app's webhooks (getWebhooks).
func (c *Client) ListWebhooks(ctx context.Context) (*GetWebhooksResponse, *Response, error) {
	out := new(GetWebhooksResponse)
	resp, err := c.do(ctx, &request{op: OpGetWebhooks, path: PathWebhooks()}, out)
	return result(out, resp, err)
}

// ValidateWebhook triggers a CRC check of a webhook and re-enables it when
// it passes (validateWebhooks).
func (c *Client) ValidateWebhook(ctx context.Context, webhookID string) (*ValidateWebhookResponse, *Response, error) {
	if err := ValidateWebhookID(webhookID); err != nil {
		return nil, nil, err
	}
	out := new(ValidateWebhookResponse)
	resp, err := c.do(ctx, &request{op: OpValidateWebhooks, path: PathWebhook(webhookID)}, out)
	return result(out, resp, err)
}

// DeleteWebhook deletes a webhook (deleteWebhooks).
func (c *Client) DeleteWebhook(ctx context.Context, webhookID string) (*DeleteWebhookResponse, *Response, error) {
	if err := ValidateWebhookID(webhookID); err != nil {
		return nil, nil, err
	}
	out := new(DeleteWebhookResponse)
	resp, err := c.do(ctx, &request{op: OpDeleteWebhooks, path: PathWebhook(webhookID)}, out)
	return result(out, resp, err)
}

// ReplayWebhook asks X to deliver again, to the webhook, the events of
// [from, to] (minute precision, at most 24 hours back) that were delivered
// or attempted (createWebhookReplayJob).
func (c *Client) ReplayWebhook(ctx context.Context, webhookID string, from, to time.Time) (*WebhookReplayResponse, *Response, error) {
	if err := ValidateWebhookID(webhookID); err != nil {
		return nil, nil, err
	}
	if to.Before(from) {
		return nil, nil, invalid("replay range", "", "to_date is before from_date")
	}
	req := &WebhookReplayRequest{WebhookID: webhookID, FromDate: ReplayTime(from), ToDate: ReplayTime(to)}
	out := new(WebhookReplayResponse)
	resp, err := c.do(ctx, &request{op: OpCreateWebhookReplayJob, path: PathWebhooksReplay(), body: req}, out)
	return result(out, resp, err)
}
