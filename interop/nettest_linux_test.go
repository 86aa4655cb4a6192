package interop

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// TestNettestConn runs x/net's conformance suite for net.Conn on pairs
// made of our two sides, in both orders, over IPv4 and IPv6 loopback.
func TestNettestConn(t *testing.T) {
	for _, tc := range []struct {
		name        string
		addr        string
		dialerFirst bool
	}{
		{"v4/dialed-accepted", "tcp://127.0.0.1:0", true},
		{"v4/accepted-dialed", "tcp://127.0.0.1:0", false},
		{"v6/dialed-accepted", "tcp6://[::1]:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.addr)
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				network := "tcp"
				dc, err := s.d.DialContext(ctx, network, s.addr)
				if err != nil {
					return nil, nil, nil, err
				}
				ac, err := s.ln.Accept()
				if err != nil {
					dc.Close()
					return nil, nil, nil, err
				}
				stop = func() {
					dc.Close()
					ac.Close()
				}
				if tc.dialerFirst {
					return dc, ac, stop, nil
				}
				return ac, dc, stop, nil
			})
		})
	}
}
