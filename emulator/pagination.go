package emulator

import (
	"encoding/base32"
	"encoding/binary"
	"strconv"
)

// Pagination tokens are opaque base32hex strings (the encoding X documents
// for DM pagination tokens), 16 characters long: a kind byte, a big-endian
// cursor and a check byte. The cursor is a sequence/event id (lists ordered
// newest first continue below it) or an offset.
const (
	tokChatEvents byte = 'e'
	tokChatConvs  byte = 'c'
	tokDMEvents   byte = 'd'
)

var tokenEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

func encodeToken(kind byte, cursor uint64) string {
	var b [10]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:9], cursor)
	b[9] = checkByte(b[:9])
	return tokenEncoding.EncodeToString(b[:])
}

func decodeToken(kind byte, s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	b, err := tokenEncoding.DecodeString(s)
	if err != nil || len(b) != 10 || b[0] != kind || b[9] != checkByte(b[:9]) {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[1:9]), true
}

func checkByte(b []byte) byte {
	x := byte(0x5a)
	for _, v := range b {
		x = x*31 + v
	}
	return x
}

// pageParams reads max_results and pagination_token.
func pageParams(c *call, kind byte, def, lo, hi int) (max int, cursor uint64, hasCursor bool, perr *apiError) {
	q := c.r.URL.Query()
	max = def
	if v := q.Get("max_results"); v != "" || q.Has("max_results") {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			e := errInvalid("max_results", "The `max_results` query parameter value [%s] is not between %d and %d", clip(v), lo, hi)
			e.problem.Value = clip(v)
			return 0, 0, false, e
		}
		max = n
	}
	if q.Has("pagination_token") {
		t := q.Get("pagination_token")
		cur, ok := decodeToken(kind, t)
		if !ok {
			e := errInvalid("pagination_token", "The `pagination_token` query parameter value [%s] is not valid.", clip(t))
			e.problem.Value = clip(t)
			return 0, 0, false, e
		}
		cursor, hasCursor = cur, true
	}
	return max, cursor, hasCursor, nil
}
