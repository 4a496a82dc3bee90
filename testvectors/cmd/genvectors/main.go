// Command genvectors regenerates testvectors/xchat.json, xchat-go's
// deterministic test vectors, from their fixed seed:
//
//	go run ./testvectors/cmd/genvectors -out testvectors/xchat.json
//
// Without -out it writes to standard output.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xchat-go/xchat/internal/vectorgen"
	"github.com/xchat-go/xchat/testvectors"
)

func main() {
	out := flag.String("out", "", "output file (default: standard output)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genvectors:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	f, err := vectorgen.Generate()
	if err != nil {
		return err
	}
	b, err := testvectors.Marshal(f)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
