package emulator

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/wire"
)

// twitterEpochMsec is the snowflake epoch X uses (2010-11-04T01:42:54.657Z).
const twitterEpochMsec = 1288834974657

// snowflake mints X-style 64-bit ids: milliseconds since the X epoch in the
// high bits, a counter in the low 22 bits. Ids are strictly increasing even
// when the clock stalls or steps back, so they double as sequence ids.
type snowflake struct {
	mu    sync.Mutex
	clock func() time.Time
	last  uint64
}

func (s *snowflake) next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.clock().UnixMilli() - twitterEpochMsec
	if ms < 0 {
		ms = 0
	}
	id := uint64(ms) << 22
	if id <= s.last {
		id = s.last + 1
	}
	s.last = id
	return id
}

// observe makes later ids larger than id (used after loading state).
func (s *snowflake) observe(id uint64) {
	s.mu.Lock()
	if id > s.last {
		s.last = id
	}
	s.mu.Unlock()
}

var (
	reConvPath = regexp.MustCompile(`^([0-9]{1,19}|[0-9]{1,19}[-:][0-9]{1,19}|g[0-9]{1,19})$`)
	reHashKey  = regexp.MustCompile(`^[a-zA-Z0-9]{1,50}$`)
)

// parseID parses a canonical decimal id (no sign, no leading zeros, fits in
// int64). ok is false for anything else.
func parseID(s string) (uint64, bool) {
	if !decimal.ValidID(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, false
	}
	return v, true
}

func fmtID(v uint64) string { return strconv.FormatUint(v, 10) }

// isID reports whether s is a canonical decimal id.
func isID(s string) bool { _, ok := parseID(s); return ok }

// oneToOneKey is the canonical (event / signature) id of the 1:1
// conversation between a and b: both ids sorted numerically, joined by ':'.
func oneToOneKey(a, b string) string { return wire.OneToOneID(a, b) }

// isGroupKey reports whether a conversation key names a group.
func isGroupKey(key string) bool { return strings.HasPrefix(key, "g") }

// restConvID renders a conversation key for REST JSON bodies: the hyphen
// form A-B for 1:1 conversations (as X's listings and paths use), the g-id
// for groups.
func restConvID(key string) string { return strings.Replace(key, ":", "-", 1) }

// oneToOneMembers returns the two user ids of a 1:1 key.
func oneToOneMembers(key string) (string, string) {
	a, b, _ := strings.Cut(key, ":")
	return a, b
}

// isVersion reports whether v is a key or signature version: a canonical
// decimal of 1 to 19 digits.
func isVersion(v string) bool { return decimal.ValidID(v) }
