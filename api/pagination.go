package api

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// MaxPaginationTokenBytes bounds a next_token the client (and the session
// engine) accepts from a server. X's tokens are a few dozen characters; a
// token is kept for the length of a listing (to detect loops) and sent back
// in the next request's URL, so a server answering ever fresh tokens of
// megabytes would otherwise grow both without bound.
const MaxPaginationTokenBytes = 1024

// MaxEmptyPages and MaxPages bound a listing the server never ends: an
// iterator stops with ErrPaginationStalled at the MaxEmptyPages-th page in
// a row that brought nothing but a next_token, or when a next_token would
// lead past MaxPages pages (with at most 100 items a page, a million
// items: far more than any listing of one account or app).
const (
	MaxEmptyPages = 4
	MaxPages      = 10000
)

// pages drives a token-paginated listing. fetch returns the page for token
// ("" for the first page) and the next token ("" at the end); empty reports
// a page that brought nothing. A token seen twice ends iteration with
// ErrPaginationLoop, one longer than MaxPaginationTokenBytes with
// ErrPaginationToken, MaxEmptyPages empty pages in a row or a token leading
// past MaxPages pages with ErrPaginationStalled. A *PartialError from fetch
// is yielded after the page and iteration continues if the consumer does.
func pages[P any](ctx context.Context, first string, empty func(P) bool, fetch func(ctx context.Context, token string) (P, string, error)) iter.Seq2[P, error] {
	return func(yield func(P, error) bool) {
		var zero P
		w := pageWalk{seen: map[string]bool{}}
		token := first
		if token != "" {
			w.seen[token] = true
		}
		for {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			page, next, err := fetch(ctx, token)
			var pe *PartialError
			if err != nil && !errors.As(err, &pe) {
				yield(zero, err)
				return
			}
			if !yield(page, nil) {
				return
			}
			if pe != nil && !yield(zero, pe) {
				return
			}
			if next == "" {
				return
			}
			if err := w.follow(next, empty(page)); err != nil {
				yield(zero, err)
				return
			}
			token = next
		}
	}
}

// pageWalk is what a listing remembers of the pages it followed.
type pageWalk struct {
	seen        map[string]bool // every next_token followed
	pages, idle int             // pages fetched, empty ones in a row
}

// follow records next, the token a page (empty or not) ended with, or
// tells why the listing must not follow it.
func (w *pageWalk) follow(next string, empty bool) error {
	w.pages++
	if len(next) > MaxPaginationTokenBytes {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrPaginationToken, len(next), MaxPaginationTokenBytes)
	}
	if w.seen[next] {
		return ErrPaginationLoop
	}
	if empty {
		w.idle++
	} else {
		w.idle = 0
	}
	if w.idle >= MaxEmptyPages {
		return fmt.Errorf("%w: %d empty pages in a row", ErrPaginationStalled, w.idle)
	}
	if w.pages >= MaxPages {
		return fmt.Errorf("%w: more after %d pages", ErrPaginationStalled, w.pages)
	}
	w.seen[next] = true
	return nil
}

// items flattens an iterator of pages into one of their items.
func items[P, T any](src iter.Seq2[P, error], list func(P) []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for page, err := range src {
			if err != nil {
				if !yield(zero, err) {
					return
				}
				continue
			}
			for _, it := range list(page) {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// ConversationPages iterates over every page of the user's Chat
// conversations, starting at opts.PaginationToken. max_results is validated
// before any request. Scopes: dm.read, users.read.
func (c *Client) ConversationPages(ctx context.Context, opts *ListConversationsOptions) iter.Seq2[*GetChatConversationsResponse, error] {
	o := ListConversationsOptions{}
	if opts != nil {
		o = *opts
	}
	return pages(ctx, o.PaginationToken, func(p *GetChatConversationsResponse) bool { return p == nil || len(p.Data) == 0 }, func(ctx context.Context, token string) (*GetChatConversationsResponse, string, error) {
		o.PaginationToken = token
		p, _, err := c.ListConversations(ctx, &o)
		return p, nextToken(p, func(p *GetChatConversationsResponse) string {
			if p.Meta == nil {
				return ""
			}
			return p.Meta.NextToken
		}), err
	})
}

// Conversations iterates over every Chat conversation of the user.
// Scopes: dm.read, users.read.
func (c *Client) Conversations(ctx context.Context, opts *ListConversationsOptions) iter.Seq2[ChatConversation, error] {
	return items(c.ConversationPages(ctx, opts), func(p *GetChatConversationsResponse) []ChatConversation {
		if p == nil {
			return nil
		}
		return p.Data
	})
}

// ConversationEventPages iterates over every page of a conversation's
// events; each page's Meta carries the key change events it references.
// Scopes: users.read, dm.read, tweet.read.
func (c *Client) ConversationEventPages(ctx context.Context, conversationID string, opts *ConversationEventsOptions) iter.Seq2[*GetChatConversationEventsResponse, error] {
	o := ConversationEventsOptions{}
	if opts != nil {
		o = *opts
	}
	return pages(ctx, o.PaginationToken, emptyEventsPage, func(ctx context.Context, token string) (*GetChatConversationEventsResponse, string, error) {
		o.PaginationToken = token
		p, _, err := c.GetConversationEvents(ctx, conversationID, &o)
		return p, nextToken(p, func(p *GetChatConversationEventsResponse) string {
			if p.Meta == nil {
				return ""
			}
			return p.Meta.NextToken
		}), err
	})
}

// ConversationEvents iterates over every event of a conversation, in the
// server's order. Use ConversationEventPages to see key change events.
// Scopes: users.read, dm.read, tweet.read.
func (c *Client) ConversationEvents(ctx context.Context, conversationID string, opts *ConversationEventsOptions) iter.Seq2[ChatMessageEvent, error] {
	return items(c.ConversationEventPages(ctx, conversationID, opts), func(p *GetChatConversationEventsResponse) []ChatMessageEvent {
		if p == nil {
			return nil
		}
		return p.Data
	})
}

func dmNext(p *GetDmEventsResponse) string {
	if p.Meta == nil {
		return ""
	}
	return p.Meta.NextToken
}

// emptyEventsPage reports a page of conversation events with neither
// events nor key change events.
func emptyEventsPage(p *GetChatConversationEventsResponse) bool {
	return p == nil || (len(p.Data) == 0 && (p.Meta == nil || len(p.Meta.ConversationKeyEvents) == 0))
}

func emptyDmPage(p *GetDmEventsResponse) bool { return len(dmData(p)) == 0 }

func dmData(p *GetDmEventsResponse) []DmEvent {
	if p == nil {
		return nil
	}
	return p.Data
}

// DmEvents iterates over all the user's legacy DM events. Scopes:
// users.read, tweet.read, dm.read.
func (c *Client) DmEvents(ctx context.Context, opts *DmEventsOptions) iter.Seq2[DmEvent, error] {
	o := DmEventsOptions{}
	if opts != nil {
		o = *opts
	}
	return items(pages(ctx, o.PaginationToken, emptyDmPage, func(ctx context.Context, token string) (*GetDmEventsResponse, string, error) {
		o.PaginationToken = token
		p, _, err := c.ListDmEvents(ctx, &o)
		return p, nextToken(p, dmNext), err
	}), dmData)
}

// DmConversationEvents iterates over the events of a legacy DM
// conversation. Scopes: users.read, dm.read, tweet.read.
func (c *Client) DmConversationEvents(ctx context.Context, dmConversationID string, opts *DmEventsOptions) iter.Seq2[DmEvent, error] {
	o := DmEventsOptions{}
	if opts != nil {
		o = *opts
	}
	return items(pages(ctx, o.PaginationToken, emptyDmPage, func(ctx context.Context, token string) (*GetDmEventsResponse, string, error) {
		o.PaginationToken = token
		p, _, err := c.ListDmConversationEvents(ctx, dmConversationID, &o)
		return p, nextToken(p, dmNext), err
	}), dmData)
}

// DmEventsWithParticipant iterates over the 1:1 legacy DM events with
// participantID. Scopes: dm.read, tweet.read, users.read.
func (c *Client) DmEventsWithParticipant(ctx context.Context, participantID string, opts *DmEventsOptions) iter.Seq2[DmEvent, error] {
	o := DmEventsOptions{}
	if opts != nil {
		o = *opts
	}
	return items(pages(ctx, o.PaginationToken, emptyDmPage, func(ctx context.Context, token string) (*GetDmEventsResponse, string, error) {
		o.PaginationToken = token
		p, _, err := c.ListDmEventsWithParticipant(ctx, participantID, &o)
		return p, nextToken(p, dmNext), err
	}), dmData)
}

func nextToken[P any](p *P, get func(*P) string) string {
	if p == nil {
		return ""
	}
	return get(p)
}
