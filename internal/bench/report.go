package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Thresholds of the reported targets.
const (
	// scalingPerCore is the fraction of linear speed-up the all-cores
	// history decrypt must reach (1.7× on 2 cores).
	scalingPerCore = 0.85
	// rssGrowthLimit is the largest acceptable peak RSS ratio between the
	// long and the short history.
	rssGrowthLimit = 1.25
)

func evaluate(rep *Report, rssSmall, rssLarge *childResult, machineScaling float64) []Target {
	var ts []Target
	var single, all *Row
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.FloorTarget > 0 && r.Floor > 0 {
			ratio := r.Ours / r.Floor
			ts = append(ts, Target{Name: r.Name + ": ≤ " + fmt.Sprint(r.FloorTarget) + "× floor", Met: ratio <= r.FloorTarget,
				Detail: fmt.Sprintf("%.2f×", ratio)})
		}
		if strings.HasPrefix(r.Name, "decrypt+verify history") {
			if r.Procs == 1 {
				single = r
			} else {
				all = r
			}
		}
	}
	switch {
	case rep.Cores < 2 || all == nil:
		ts = append(ts, Target{Name: "history decrypt scales with cores", Skipped: true, Detail: "one core"})
	default:
		need := scalingPerCore * float64(all.Procs)
		got := single.Wall / all.Wall
		detail := fmt.Sprintf("%.2f×; verify+open alone scaled %.2f× on this machine during the run", got, machineScaling)
		if all.CPU > 0 && single.CPU > 0 {
			detail += fmt.Sprintf("; the %d-core run obtained %.2f cores (CPU/wall) and spent %.2f× the 1-core CPU per history",
				all.Procs, all.CPU/all.Wall, all.CPU/single.CPU)
		}
		ts = append(ts, Target{Name: fmt.Sprintf("history decrypt scales with cores: ≥ %.2f× on %d cores", need, all.Procs),
			Met: got >= need, Detail: detail})
	}
	if rssSmall.PeakRSS > 0 && rssLarge.PeakRSS > 0 {
		g := float64(rssLarge.PeakRSS) / float64(rssSmall.PeakRSS)
		ts = append(ts, Target{Name: fmt.Sprintf("history peak RSS independent of length: %s vs %s events ≤ %.2f×",
			count(rssLarge.Events-1), count(rssSmall.Events-1), rssGrowthLimit),
			Met: g <= rssGrowthLimit, Detail: fmt.Sprintf("%s vs %s (%.2f×)", kib(rssLarge.PeakRSS), kib(rssSmall.PeakRSS), g)})
	} else {
		ts = append(ts, Target{Name: "history peak RSS independent of length", Skipped: true, Detail: "no /proc/self/status"})
	}
	for _, r := range rep.Rows {
		if r.SDKOp == "" {
			continue
		}
		name := "faster than the SDK: " + r.Name
		if r.SDK == 0 || r.Ours == 0 {
			ts = append(ts, Target{Name: name, Skipped: true, Detail: orDash(r.SDKNote, rep.SDK)})
			continue
		}
		ts = append(ts, Target{Name: name, Met: r.SDK > r.Ours, Detail: fmt.Sprintf("SDK %.2f× ours", r.SDK/r.Ours)})
	}
	return ts
}

func orDash(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

func kib(k int64) string {
	if k <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(k)/1024)
}

func ns(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// Print writes the table and the targets.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "xchat-bench: %d cores; SDK: %s\n", rep.Cores, rep.SDK)
	fmt.Fprintln(w, "ns/op: process CPU time per op (best of 3 testing.Benchmark runs) on rows run on 1 core, for ours, the floor")
	fmt.Fprintln(w, "and the SDK alike; wall time on multi-core and child rows. CPU time keeps the ratios honest when other work")
	fmt.Fprintln(w, "competes for the machine; the last column is our wall time.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tours ns/op\tfloor ns/op\tours/floor\tSDK ns/op\tSDK/ours\tallocs/op\tpeak RSS\tours wall ns/op\t")
	for _, r := range rep.Rows {
		ratio, sdkRatio := "-", "-"
		if r.Floor > 0 && r.Ours > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ours/r.Floor)
			if r.FloorTarget > 0 {
				ratio += mark(r.Ours/r.Floor <= r.FloorTarget)
			}
		}
		if r.SDK > 0 && r.Ours > 0 {
			sdkRatio = fmt.Sprintf("%.2f×", r.SDK/r.Ours) + mark(r.SDK > r.Ours)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", r.Name, ns(r.Ours), ns(r.Floor), ratio, ns(r.SDK), sdkRatio, r.Allocs, kib(r.RSSKiB), ns(r.Wall))
	}
	tw.Flush()
	var notes []string
	for _, r := range rep.Rows {
		for _, n := range []string{r.Note, r.SDKNote} {
			if n != "" {
				notes = append(notes, fmt.Sprintf("  %s: %s", r.Name, n))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
	fmt.Fprintln(w, "\nfloors (one core): send = ECDSA sign + secretbox seal; decrypt = N × (ECDSA verify + secretbox open) + the key change's")
	fmt.Fprintln(w, "  verify + ECIES unwrap (all-cores row: verify + open timed on every core at once); key change = N × ECIES wrap + 1 sign;")
	fmt.Fprintln(w, "  streams = x/crypto chacha20poly1305 XChaCha20 over the same bytes in the format's 1 KiB frames.")
	fmt.Fprintln(w, "latency rows: median wall time from the start of alice's SendText to bob's application getting the verified")
	fmt.Fprintln(w, "  event, in-process emulator on loopback; p99 and max in the notes; allocs/op are the whole process's per message.")
	fmt.Fprintln(w, "\ntargets (reported, not asserted):")
	met, missed := 0, 0
	for _, t := range rep.Targets {
		m := "✓"
		switch {
		case t.Skipped:
			m = "–"
		case t.Met:
			met++
		default:
			m = "✗"
			missed++
		}
		fmt.Fprintf(w, "  %s %s (%s)\n", m, t.Name, t.Detail)
	}
	fmt.Fprintf(w, "  %d met, %d missed\n", met, missed)
}

func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

// Main is the xchat-bench command: it parses args, runs the measurements
// and prints the table to stdout (progress to stderr). It returns the exit
// code.
func Main(args []string, stdout, stderr io.Writer) int {
	if IsChild() {
		return ChildMain(stdout, stderr)
	}
	fs := flag.NewFlagSet("xchat-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "tiny sizes and short benchmark times (smoke test)")
	sdk := fs.String("sdk", SDKAuto, "time the official SDK: auto (when node and interop/node_modules exist), off, require")
	bt := fs.Duration("benchtime", 0, "time per testing.Benchmark run; each op takes the best of 3 runs (default 400ms; -quick: 20ms, 1 run)")
	verbose := fs.Bool("v", false, "print progress to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sdk != SDKAuto && *sdk != SDKOff && *sdk != SDKRequire {
		fmt.Fprintf(stderr, "xchat-bench: -sdk must be auto, off or require\n")
		return 2
	}
	cfg := Config{Quick: *quick, SDK: *sdk, BenchTime: *bt}
	if *verbose {
		cfg.Log = stderr
	}
	start := time.Now()
	rep, err := Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "xchat-bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
		if errors.Is(err, errSDK) {
			return 3
		}
		return 1
	}
	rep.Print(stdout)
	fmt.Fprintf(stdout, "\ntotal %v\n", time.Since(start).Round(time.Second))
	return 0
}
