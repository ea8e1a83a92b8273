// Package ports picks loopback ports for servers started as other processes (moto_server, the
// Lambda Runtime Interface Emulator), which cannot be handed a listener.
//
// Asking the kernel for port 0 and closing the listener leaves a window before the other process
// binds, in which any process on the machine asking for port 0 (every httptest server of a parallel
// test binary) may be given the same ephemeral port. Free therefore picks, at random, a port below the
// kernel's ephemeral range, which port-0 listeners never get: only other callers of Free compete for
// it, and they pick at random too.
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// floor is the lowest port Free picks: clear of the well-known and most registered service ports.
const floor = 20000

// Free returns a loopback port nobody listens on right now, outside the ephemeral range.
func Free() (int, error) {
	low := ephemeralLow()
	if low-floor >= 1000 {
		for range 64 {
			p := floor + rand.IntN(low-floor)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				l.Close()
				return p, nil
			}
		}
	}
	// No room below the ephemeral range (an unusual kernel setting): the kernel's choice.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default when unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 32768
}
