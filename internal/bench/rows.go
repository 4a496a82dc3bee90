package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
)

// engineRows times the per-operation rows (the engine against a stub
// server, memory keystore) and returns what the SDK must be timed on.
// The bbolt send row's store is made in dir.
func engineRows(ctx context.Context, m *measurer, rep *Report, fl *floorTimes, fx *fixtures, text, dir string) (*sdkInputs, error) {
	sz := rep.Sizes
	in := &sdkInputs{text: text, reader: fx.hist, senderKeys: fx.aliceKeys, pageN: sz.Page, streamBytes: sz.Stream}
	fmt.Fprintln(m.log, "rows: send")
	sr, err := newSendRig(ctx)
	if err != nil {
		return nil, err
	}
	if in.sendBackup, err = sr.e.ExportBackup(); err != nil {
		return nil, err
	}
	in.sendID, in.sendVersion = sr.e.UserID(), sr.e.PublicKeyVersion()
	r := m.op(1, func() error { return sr.send(text) })
	echo := m.op(1, sr.stub.echoLast)
	rep.Rows = append(rep.Rows, row("send text 1 KiB (Engine.Send)", 1, r, fl.sendFloor()+echo.ns, 1.25, "send_text_1k",
		fmt.Sprintf("floor: sign + seal + open (%.0f ns) plus one round trip of the same request to the same stub, which the row makes too "+
			"(its echo of the stored event, %.0f ns, timed alone in this run); ours %.2f× the floor without it",
			fl.sendFloor(), echo.ns, r.ns/fl.sendFloor())))
	br, closeBolt, err := newBoltSendRig(ctx, filepath.Join(dir, "send.db"))
	if err != nil {
		return nil, err
	}
	b := m.op(1, func() error { return br.send(text) })
	closeBolt()
	rep.Rows = append(rep.Rows, row("send text 1 KiB on bbolt (Engine.Send)", 1, b, fl.sendFloor()+echo.ns, 0, "",
		fmt.Sprintf("reported, no target: the row above with the account in a sealed bbolt store, its two commits (the outbox item, "+
			"then the echo recorded and the item removed) each flushed to disk; ours is the process CPU time, wall %.0f ns; "+
			"%.2f× the memory keystore's send in this run", b.wall, b.ns/r.ns)))

	fmt.Fprintln(m.log, "rows: sync")
	if err := syncRows(ctx, m, rep, fl, fx); err != nil {
		return nil, err
	}
	fmt.Fprintln(m.log, "rows: rotate")
	for _, n := range sz.KeyChange {
		f, err := newRotateFixture(ctx, n)
		if err != nil {
			return nil, err
		}
		var first *rotateRig
		r := m.opFresh(1, func() (func() error, error) {
			rr, err := f.rig(ctx)
			if first == nil {
				first = rr
			}
			if err != nil {
				return nil, err
			}
			return rr.rotate, nil
		})
		if m.err != nil {
			return nil, m.err
		}
		op := fmt.Sprintf("keychange_%d", n)
		rep.Rows = append(rep.Rows, row(fmt.Sprintf("rotate key, %d participants (Engine.Rotate)", n), 1, r,
			float64(n)*fl.wrap+fl.signKC, 1.25, op, "each rotation in a fresh conversation keyed once"))
		in.keyChanges = append(in.keyChanges, sdkKeyChangeInput{op: op, conv: first.id, keys: first.keys})
	}

	fmt.Fprintln(m.log, "rows: media")
	sf, err := m.streamFloors(sz.Stream)
	if err != nil {
		return nil, err
	}
	mr, err := newMediaRig(sr, randomBytes(sz.Stream))
	if err != nil {
		return nil, err
	}
	r = m.op(1, mr.upload)
	rep.Rows = append(rep.Rows, row("send media "+mib(sz.Stream)+" (Engine.Send, Media)", 1, r, sf.seal, 1.25, "stream_encrypt",
		fmt.Sprintf("floor: 1 KiB frames; one-shot AEAD over the buffer %.0f ns", sf.oneShot)))
	r = m.op(1, func() error { _, err := mr.download(); return err })
	rep.Rows = append(rep.Rows, row("download media "+mib(sz.Stream)+" (Engine.DownloadMedia)", 1, r, sf.pull, 1.25, "stream_decrypt",
		pullFloorNote(r, sf)+fmt.Sprintf("; the floor's pull into a buffer made per call, as a download into a fresh []byte must have one (the runtime zeroes it, "+
			"or the kernel faults its pages in): %.0f ns (ours %.2f× that; the rest is the copy out of the io.Reader, which the floor reads in place); "+
			"XChaCha20 frames read from an io.Reader and opened into a buffer made per call: %.0f ns (ours %.2f× that)",
			sf.pullFresh, r.ns/sf.pullFresh, sf.received, r.ns/sf.received)))
	r = m.op(1, func() error { return mr.downloadTo(io.Discard) })
	rep.Rows = append(rep.Rows, row("download media "+mib(sz.Stream)+" to a writer (Engine.DownloadMediaTo)", 1, r, sf.pull, 1.25, "",
		"into io.Discard, one frame in memory; the SDK has no streaming form; "+pullFloorNote(r, sf)+
			fmt.Sprintf("; ours %.2f× the fresh-buffer XChaCha20 download (%.0f ns)", r.ns/sf.received, sf.received)))
	if m.err != nil {
		return nil, m.err
	}
	return in, nil
}

// pullFloorNote says what the download rows' floor is (see
// streamFloorTimes.pull) and gives the floor they had before beside it.
func pullFloorNote(r measured, sf *streamFloorTimes) string {
	return fmt.Sprintf("floor: libsodium secretstream, the primitive the media format fixes, pulling the frames from memory into a buffer made once "+
		"(one ChaCha20 block a frame more than an AEAD); the former floor, XChaCha20-Poly1305 over the same 1 KiB frames: %.0f ns (ours %.2f× that)",
		sf.open, r.ns/sf.open)
}

// row builds a per-operation row.
func row(name string, procs int, r measured, floor, target float64, sdkOp, note string) Row {
	return Row{Name: name, Procs: procs, Ours: r.ns, Wall: r.wall, CPU: r.cpu, Allocs: r.allocs, Bytes: r.bytes,
		Floor: floor, FloorTarget: target, SDKOp: sdkOp, Note: note}
}

// syncRows times Engine.Sync of the page and of the history from a stub
// into fresh stores, and the decrypt pipeline alone on the history, on one
// core and on every core.
func syncRows(ctx context.Context, m *measurer, rep *Report, fl *floorTimes, fx *fixtures) error {
	sz := rep.Sizes
	page, err := newSyncRig(ctx, fx.page, fx.alice, fx.aliceKeys)
	if err != nil {
		return err
	}
	r := m.opFresh(1, func() (func() error, error) { return page.fresh(1) })
	rep.Rows = append(rep.Rows, row(fmt.Sprintf("sync page of %d (Engine.Sync)", sz.Page), 1, r,
		fl.syncFloor(sz.Page, 1), 1.25, "decrypt_page", ""))
	hist, err := newSyncRig(ctx, fx.hist, fx.alice, fx.aliceKeys)
	if err != nil {
		return err
	}
	procs := []int{1}
	if c := runtime.NumCPU(); c > 1 {
		procs = append(procs, c)
	}
	for _, p := range procs {
		r := m.opFresh(p, func() (func() error, error) { return hist.fresh(p) })
		target := 0.0
		if p == 1 {
			target = 1.25
		}
		rep.Rows = append(rep.Rows, row(fmt.Sprintf("sync history %s, %s (Engine.Sync)", count(sz.History), cores(p)), p, r,
			fl.syncFloor(sz.History, p), target, "decrypt_history", ""))
	}
	keys, err := pipelineKeys(fx)
	if err != nil {
		return err
	}
	for _, p := range procs {
		r := m.op(p, func() error {
			n, err := decryptAll(keys, inbound.FromBytes(fx.hist.events), p)
			if err == nil && n != len(fx.hist.events) {
				err = fmt.Errorf("bench: decrypted %d of %d events", n, len(fx.hist.events))
			}
			return err
		})
		if p > 1 {
			r.ns = r.wall
		}
		target := 0.0
		if p == 1 {
			target = 1.25
		}
		rep.Rows = append(rep.Rows, row(fmt.Sprintf("decrypt pipeline, history %s, %s (inbound.DecryptBatch)", count(sz.History), cores(p)), p, r,
			fl.syncFloor(sz.History, p), target, "", ""))
	}
	return m.err
}

// pipelineKeys are the history reader's keys for the bare pipeline: its
// identity and alice's signing key; the conversation key comes from the
// key change in the events.
func pipelineKeys(fx *fixtures) (*inbound.StaticKeys, error) {
	kp, err := crypto.ParseBackup(fx.hist.backup)
	if err != nil {
		return nil, err
	}
	pub, err := crypto.ParsePublicKey(fx.aliceSPKI)
	if err != nil {
		return nil, err
	}
	k := &inbound.StaticKeys{IdentityKey: kp.Identity, UserID: fx.hist.id, KeyVersion: fx.hist.version}
	k.AddSigningKey(fx.alice, fx.aliceKeys[len(fx.aliceKeys)-1].PublicKeyVersion, pub)
	return k, nil
}

// e2eRun is one length's streamed pipeline and end-to-end sync children.
type e2eRun struct {
	n        int
	streamed *childResult
	e2e      *childResult
}

// childRows runs, for every end-to-end length, the streamed pipeline and
// the end-to-end sync in child processes (peak RSS is per process).
func childRows(rep *Report, w *world, fx *fixtures, profileDir string, logw io.Writer) ([]e2eRun, error) {
	var runs []e2eRun
	ncores := runtime.NumCPU()
	for _, c := range fx.e2e {
		fmt.Fprintf(logw, "child: streamed pipeline, %d events\n", c.n)
		hs := childSpec{Kind: "history", File: c.file, Workers: ncores, UserID: c.id, KeyVersion: c.version,
			PeerID: fx.alice, PeerVersion: fx.aliceKeys[len(fx.aliceKeys)-1].PublicKeyVersion}
		if profileDir != "" {
			hs.CPUProfile = filepath.Join(profileDir, fmt.Sprintf("streamed-%d.cpu.pprof", c.n))
		}
		st, err := runChild(hs)
		if err != nil {
			return nil, err
		}
		spec := childSpec{Kind: "e2e", URL: w.srv.URL, Token: c.token, UserID: c.id, PeerID: fx.alice, DB: c.db, DBKey: c.dbKey, N: c.n}
		if profileDir != "" {
			spec.CPUProfile = filepath.Join(profileDir, fmt.Sprintf("e2e-%d.cpu.pprof", c.n))
			spec.MemProfile = filepath.Join(profileDir, fmt.Sprintf("e2e-%d.allocs.pprof", c.n))
		}
		fmt.Fprintf(logw, "child: e2e sync, %d events\n", c.n)
		ee, err := runChild(spec)
		if err != nil {
			return nil, err
		}
		runs = append(runs, e2eRun{n: c.n, streamed: st, e2e: ee})
		rep.Rows = append(rep.Rows, childRow(fmt.Sprintf("decrypt pipeline streamed, %s events (child, %s)", count(c.n), cores(ncores)), ncores, st,
			fmt.Sprintf("%.0f events/s; CPU %v for %v wall; peak heap %s; peak anonymous RSS %s; file-backed RSS after the run %s",
				st.EventsPS, dur(st.CPUNs), dur(st.Ns), kib(st.PeakHeap), kib(st.PeakAnon), kib(st.RSSFile))))
		rep.Rows = append(rep.Rows, childRow(fmt.Sprintf("e2e sync %s events (child; emulator, loopback, bbolt)", count(c.n)), ncores, ee, e2eNote(st, ee)))
		if c == fx.hist {
			rep.Rows = append(rep.Rows,
				Row{Name: fmt.Sprintf("re-sync, no new events (after %s)", count(c.n)), Procs: ncores, Ours: float64(ee.ResyncNs), Wall: float64(ee.ResyncNs),
					Note: fmt.Sprintf("%.1f%% of the first sync", pct(ee.ResyncNs, ee.Ns))},
				Row{Name: fmt.Sprintf("re-open + sync, no new events (after %s)", count(c.n)), Procs: ncores, Ours: float64(ee.ReopenNs), Wall: float64(ee.ReopenNs),
					Note: fmt.Sprintf("%.1f%% of the first sync", pct(ee.ReopenNs, ee.Ns))})
		}
	}
	return runs, nil
}

// e2eNote explains an end-to-end run: its rate against the streamed
// pipeline, where its time went and the cost of doing it again. The sync
// fetches the next page while it verifies the page before, and decrypts
// the next page while it stores the one before, so the times overlap:
// they do not add up to the wall time.
func e2eNote(st, ee *childResult) string {
	return fmt.Sprintf("%.0f events/s (%.2f× the streamed pipeline); CPU %v for %v wall; peak heap %s; "+
		"peak anonymous RSS %s; file-backed RSS after the sync %s (the binary, the keystore's mmap). "+
		"Time spent, overlapping: fetching %d pages %v (%.0f%% of the wall; meanwhile the pages before are verified), "+
		"%d store write transactions (Update, SetValue) %v (%.0f%%; meanwhile the next page is decrypted; of which committing, "+
		"after the engine's work inside them, %v (%.0f%%): bbolt writing and flushing to disk), reads (View, Value) %v. "+
		"Opening store and engine %v; re-sync with no new events %v (%.1f%%); re-open + sync %v (%.1f%%)",
		ee.EventsPS, ee.EventsPS/st.EventsPS, dur(ee.CPUNs), dur(ee.Ns), kib(ee.PeakHeap), kib(ee.PeakAnon), kib(ee.RSSFile),
		ee.Pages, dur(ee.FetchNs), pct(ee.FetchNs, ee.Ns), ee.Updates, dur(ee.UpdateNs), pct(ee.UpdateNs, ee.Ns), dur(ee.CommitNs), pct(ee.CommitNs, ee.Ns), dur(ee.ViewNs),
		dur(ee.OpenNs), dur(ee.ResyncNs), pct(ee.ResyncNs, ee.Ns), dur(ee.ReopenNs), pct(ee.ReopenNs, ee.Ns))
}

func childRow(name string, procs int, r *childResult, note string) Row {
	return Row{Name: name, Procs: procs, Ours: float64(r.Ns), Wall: float64(r.Ns), CPU: float64(r.CPUNs),
		Allocs: int64(max(r.Allocs, 1)), Bytes: int64(r.Bytes), RSSKiB: r.PeakRSS, Note: note}
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func dur(ns int64) time.Duration {
	return time.Duration(ns).Round(time.Millisecond / 10)
}
