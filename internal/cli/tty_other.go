//go:build !linux

package cli

import (
	"os"
	"os/exec"
	"runtime"
)

var ttyPath = func() string {
	if runtime.GOOS == "windows" {
		return "CONIN$"
	}
	return "/dev/tty"
}()

// isTerminal reports whether f is a character device (an approximation
// outside Linux).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// noEcho turns terminal echo off with stty and returns the function
// restoring it.
func noEcho(f *os.File) (func(), error) {
	cmd := exec.Command("stty", "-echo")
	cmd.Stdin = f
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return func() {
		c := exec.Command("stty", "echo")
		c.Stdin = f
		_ = c.Run()
	}, nil
}
