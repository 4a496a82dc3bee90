package contract

import (
	"testing"

	"github.com/xchat-go/xchat/internal/exchange"
)

func runFlow(t *testing.T, rec *exchange.Recorder) {
	t.Helper()
}
