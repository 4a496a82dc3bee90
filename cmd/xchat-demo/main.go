// Command xchat-demo is what "make demo" runs: an in-process emulator,
// four accounts with encrypted keystores, a one-to-one chat, a group that
// gains a member (rotating its key), an encrypted image, a reply and a
// reaction, each event printed with its verification status. It cleans up
// after itself and exits non-zero if anything failed to verify.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/xchat-go/xchat/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := demo.Run(ctx, os.Stdout, demo.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "xchat-demo: error: %v\n", err)
		os.Exit(1)
	}
}
