package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/cli"
	"github.com/xchat-go/xchat/juicebox"
)

// cmdJuicebox drives the emulator's Juicebox realms from a script:
//
//	juicebox fast-insecure [GUESSES]   serve the test-only PIN stretch (and a
//	                                   guess limit); sets XCHAT_INSECURE_TEST_BACKUP=1
//	juicebox fault REALM down|slow|stale|ok
//	                                   set a realm's fault switches
//	juicebox guesses USER_ID N         every realm counts N guesses for the user
func cmdJuicebox(ts *testscript.TestScript, neg bool, args []string) {
	w := worldOf(ts)
	switch {
	case !neg && len(args) >= 1 && len(args) <= 2 && args[0] == "fast-insecure":
		guesses := uint64(0)
		if len(args) == 2 {
			var err error
			guesses, err = strconv.ParseUint(args[1], 10, 16)
			ts.Check(err)
		}
		w.emu.Juicebox().SetServedSettings(juicebox.FastInsecure, uint16(guesses))
		ts.Setenv(cli.EnvInsecureTestBackup, "1")
	case !neg && len(args) == 3 && args[0] == "fault":
		f := emulator.JuiceboxFaults{}
		switch args[2] {
		case "down":
			f.Down = true
		case "slow":
			f.DelayMS = 3_600_000
		case "stale":
			f.StaleVersion = true
		case "ok":
		default:
			ts.Fatalf("juicebox fault: unknown fault %q", args[2])
		}
		b, err := json.Marshal(f)
		ts.Check(err)
		resp, err := http.Post(w.api+"/emulator/v1/juicebox/realms/"+args[1]+"/faults", "application/json", bytes.NewReader(b))
		ts.Check(err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			ts.Fatalf("juicebox fault: status %d", resp.StatusCode)
		}
	case len(args) == 3 && args[0] == "guesses":
		resp, err := http.Get(w.api + "/emulator/v1/juicebox/users/" + args[1])
		ts.Check(err)
		var out struct {
			Data []emulator.JuiceboxRealmRecord `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		ts.Check(err)
		var counts string
		all := len(out.Data) == 3
		for _, r := range out.Data {
			counts += fmt.Sprintf(" %s=%d", r.Name, r.GuessCount)
			all = all && strconv.Itoa(int(r.GuessCount)) == args[2]
		}
		if all == neg {
			ts.Fatalf("juicebox guesses:%s (want %s)", counts, args[2])
		}
	default:
		ts.Fatalf("usage: juicebox fast-insecure [GUESSES] | juicebox fault REALM down|slow|stale|ok | juicebox guesses USER_ID N")
	}
}
