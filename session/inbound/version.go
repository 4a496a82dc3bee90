package inbound

import "github.com/xchat-go/xchat/internal/decimal"

// CompareVersions compares two key versions or sequence ids (canonical
// decimal strings) numerically: it returns -1 if a < b, 0 if equal and +1 if
// a > b, for numbers of any length up to 40 digits. A string that is not
// canonical (empty, a non-digit, a leading zero as in "01") sorts below
// every canonical one; two such strings compare bytewise. It is the
// module's one decimal rule (internal/decimal).
func CompareVersions(a, b string) int { return decimal.Compare(a, b) }
