package ports

import (
	"fmt"
	"net"
	"testing"
)

func TestFreeIsBelowTheEphemeralRangeAndBindable(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if low-floor >= 1000 && (p < floor || p >= low) {
			t.Fatalf("port %d is not in [%d, %d): a port-0 listener could be given it", p, floor, low)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		l.Close()
	}
}
