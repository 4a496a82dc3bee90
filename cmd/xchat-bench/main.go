// Command xchat-bench measures the engine's hot paths against the
// primitive floor and the official Chat XDK (timed in Node by
// interop/bench.mjs) and prints one table row per operation.
//
//	xchat-bench [-quick] [-sdk auto|off|require] [-benchtime 1s] [-v]
//
// Peak RSS figures come from re-executing this binary as a child process.
package main

import (
	"os"

	"github.com/xchat-go/xchat/internal/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
