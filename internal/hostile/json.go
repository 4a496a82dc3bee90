package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/xchat-go/xchat/api"
)

// JSON returns a rule that decodes every successful (2xx) JSON answer of
// method and path into a fresh T, lets f change it and answers the
// re-encoded value. Error answers are passed through.
func JSON[T any](name, method, path string, f func(r *http.Request, v *T) error) Rule {
	return Rule{Name: name, Method: method, Path: path, Rewrite: func(r *http.Request, resp *Response) error {
		if resp.Status/100 != 2 {
			return nil
		}
		v := new(T)
		if err := json.Unmarshal(resp.Body, v); err != nil {
			return fmt.Errorf("decoding %s: %w", r.URL.Path, err)
		}
		if err := f(r, v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", r.URL.Path, err)
		}
		resp.Body = b
		return nil
	}}
}

// Events returns a rule that rewrites pages of GET
// /2/chat/conversations/{id}/events.
func Events(name string, f func(r *http.Request, page *api.GetChatConversationEventsResponse) error) Rule {
	return JSON(name, http.MethodGet, PathEvents, f)
}

// PublicKeys returns a rule that rewrites the key sets answered by both
// public key lookups (GET /2/users/public_keys and GET
// /2/users/{id}/public_keys). f returns the key sets to answer.
func PublicKeys(name string, f func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error)) Rule {
	return JSON(name, http.MethodGet, PathPublicKeys, func(r *http.Request, v *api.GetUsersPublicKeysResponse) error {
		out, err := f(r, v.Data)
		v.Data = out
		return err
	})
}

// SendResponse returns a rule that rewrites the answers of POST
// /2/chat/conversations/{id}/messages.
func SendResponse(name string, f func(r *http.Request, v *api.SendChatMessageResponse) error) Rule {
	return JSON(name, http.MethodPost, PathMessages, f)
}

// Conversations returns a rule that rewrites the conversation list (GET
// /2/chat/conversations).
func Conversations(name string, f func(r *http.Request, v *api.GetChatConversationsResponse) error) Rule {
	return JSON(name, http.MethodGet, PathConversations, f)
}

// Conversation returns a rule that rewrites single conversation lookups
// (GET /2/chat/conversations/{id}).
func Conversation(name string, f func(r *http.Request, v *api.GetChatConversationResponse) error) Rule {
	return JSON(name, http.MethodGet, PathConversation, f)
}

// Media returns a rule that rewrites the ciphertext served by GET
// /2/chat/media/{id}/{media_hash_key}.
func Media(name string, f func(r *http.Request, body []byte) ([]byte, error)) Rule {
	return Rule{Name: name, Method: http.MethodGet, Path: PathMedia, Rewrite: func(r *http.Request, resp *Response) error {
		if resp.Status/100 != 2 {
			return nil
		}
		b, err := f(r, append([]byte(nil), resp.Body...))
		if err != nil {
			return err
		}
		resp.Body = b
		return nil
	}}
}

// Capture returns a rule that hands a copy of every request body of method
// and path to f before forwarding the request unchanged (to observe what a
// client discloses to the server).
func Capture(name, method, path string, f func(r *http.Request, body []byte)) Rule {
	return Rule{Name: name, Method: method, Path: path, Request: func(r *http.Request) {
		if r.Body == nil {
			f(r, nil)
			return
		}
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		if err == nil {
			f(r, b)
		}
	}}
}

// PathKeys is the route of POST /2/chat/conversations/{id}/keys.
const PathKeys = `/2/chat/conversations/[^/]+/keys`
