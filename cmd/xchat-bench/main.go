// Command xchat-bench measures the engine (session.Engine and its receive
// pipeline) against the primitive floor and the official Chat XDK (timed
// in Node by interop/bench.mjs) and prints one table row per operation,
// then the targets met and missed. See internal/bench for what each row
// times.
//
//	xchat-bench [-quick] [-short] [-sdk auto|off|require] [-benchtime 400ms] [-profile dir] [-v]
//
// -short (or XCHAT_BENCH_SHORT=1) leaves out the 100k-event rows; -profile
// writes CPU and allocation profiles of the end-to-end syncs.
// Peak RSS figures come from re-executing this binary as a child process.
package main

import (
	"os"

	"github.com/xchat-go/xchat/internal/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
