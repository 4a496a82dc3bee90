//go:build linux

package main

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
)

// holdPort keeps addr's port bound, but not listening, while the xchatd
// that listened there is stopped: a connection to it is refused, as it is
// to any stopped server, and no server another test starts meanwhile on an
// ephemeral port can be given this one (which once turned a script's
// expected "connection refused" into that server's 401). It returns nil
// when the port cannot be held; the script then runs unguarded.
func holdPort(addr string) io.Closer {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		_ = syscall.Close(fd)
		return nil
	}
	return heldPort(fd)
}

// heldPort is the socket holdPort bound.
type heldPort int

func (h heldPort) Close() error { return syscall.Close(int(h)) }

// TestHoldPort checks the guard itself: while held, the port refuses
// connections and no listener can take it; closed, it can be listened on.
func TestHoldPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	h := holdPort(addr)
	if h == nil {
		t.Fatalf("holdPort(%s) held nothing", addr)
	}
	if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			_ = c.Close()
		}
		t.Errorf("dial of a held port: %v, want connection refused", err)
	}
	if l2, err := net.Listen("tcp", addr); err == nil {
		_ = l2.Close()
		t.Errorf("a listener took the held port %s", addr)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	l3, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen after the hold was released: %v", err)
	}
	_ = l3.Close()
}
