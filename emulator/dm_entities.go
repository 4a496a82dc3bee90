package emulator

import (
	"regexp"
	"unicode/utf8"

	"github.com/xchat-go/xchat/api"
)

// Entities of legacy DM text, as X parses them: URLs, #hashtags, $cashtags
// and @mentions, with start/end in Unicode code points.
var (
	reURL     = regexp.MustCompile(`https?://[^\s]+`)
	reHashtag = regexp.MustCompile(`(?:^|[^\w&])#(\w+)`)
	reCashtag = regexp.MustCompile(`(?:^|[^\w])\$([A-Za-z]{1,6})\b`)
	reMention = regexp.MustCompile(`(?:^|[^\w])@(\w{1,15})`)
	rePostURL = regexp.MustCompile(`^https?://(?:www\.)?(?:x|twitter)\.com/\w{1,15}/status/([0-9]{1,19})`)
)

// runeOffset converts a byte offset of text to a code point offset.
func runeOffset(text string, b int) int64 { return int64(utf8.RuneCountInString(text[:b])) }

// dmEntities parses text; nil when it has none.
func (s *Server) dmEntities(text string) *api.DmEventEntities {
	out := &api.DmEventEntities{}
	for _, m := range reURL.FindAllStringIndex(text, -1) {
		u := text[m[0]:m[1]]
		out.URLs = append(out.URLs, api.DmEntityURL{Start: runeOffset(text, m[0]), End: runeOffset(text, m[1]),
			URL: u, ExpandedURL: u, DisplayURL: displayURL(u)})
	}
	for _, m := range reHashtag.FindAllStringSubmatchIndex(text, -1) {
		out.Hashtags = append(out.Hashtags, api.DmEntityTag{Start: runeOffset(text, m[2]-1), End: runeOffset(text, m[3]), Tag: text[m[2]:m[3]]})
	}
	for _, m := range reCashtag.FindAllStringSubmatchIndex(text, -1) {
		out.Cashtags = append(out.Cashtags, api.DmEntityTag{Start: runeOffset(text, m[2]-1), End: runeOffset(text, m[3]), Tag: text[m[2]:m[3]]})
	}
	for _, m := range reMention.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[2]:m[3]]
		ent := api.DmEntityMention{Start: runeOffset(text, m[2]-1), End: runeOffset(text, m[3]), Username: name}
		if id, ok := s.st.usernames[lower(name)]; ok {
			ent.ID = id
		}
		out.Mentions = append(out.Mentions, ent)
	}
	if len(out.URLs)+len(out.Hashtags)+len(out.Cashtags)+len(out.Mentions) == 0 {
		return nil
	}
	return out
}

func displayURL(u string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			u = u[len(p):]
		}
	}
	if len(u) > 26 {
		u = u[:25] + "…"
	}
	return u
}

// referencedPosts lists the post ids of post URLs in text (seed 004: a
// post URL in the text makes the post a referenced post).
func referencedPosts(text string) []string {
	var out []string
	for _, u := range reURL.FindAllString(text, -1) {
		if m := rePostURL.FindStringSubmatch(u); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
