//go:build !unix

package bench

import "time"

// cpuTime returns 0: CPU time is not available here, so wall time is used.
func cpuTime() time.Duration { return 0 }
