// Package attacks holds the hostile-server, fault-injection and crash-safety
// suites of xchat-go (issue #8). It has no API: everything is in its tests,
// which drive real engines (package session) against the emulator through
// the adversaries of package internal/hostile. Its botAttacks run a bot
// (package bot) on the victim's engine: no forged, replayed or
// mis-attributed command may reach a handler.
//
//	go test ./internal/attacks -run TestAttacks -v      # the named attack table
//	go test ./internal/attacks -run TestSecurityTable   # SECURITY.md lists each attack once
//	go test ./internal/attacks -run TestFaultSends -v   # 1,000 sends under network faults and kills
//	go test ./internal/attacks -run TestEngineCrash -v  # 20 × kill -9 of a sending child process
//	go test ./internal/attacks -fuzz FuzzHostileEnvelope # arbitrary envelopes served to a victim
//
// Each run prints its summary on a line of its own: "attacks: N attacks,
// N detected, N missed", "faults: sends=… retries=… duplicates=… lost=…
// outbox=…" and "crash: kills=… acked=… lost=… duplicates=… outbox=…".
// XCHAT_FAULT_SENDS=N changes the number of faulty sends (default 1000) for
// longer soaks; every random choice derives from a fixed seed.
package attacks
