package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawUDPClient is a blocking, connected UDP socket driven with plain
// syscalls and buffers made beforehand, so that it allocates nothing.
type rawUDPClient struct {
	fd       int
	out, in  []byte
	inflight int
}

func dialRawUDP(tb testing.TB, to netip.AddrPort, size, inflight int) *rawUDPClient {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		tb.Fatal(err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}); err != nil {
		tb.Fatal(err)
	}
	return &rawUDPClient{fd: fd, out: make([]byte, size), in: make([]byte, 65536), inflight: inflight}
}

// echoes sends rounds of inflight datagrams and reads as many back. A
// datagram lost on loopback (the server's or our receive buffer full)
// times the read out: that round is reported as an error.
func (c *rawUDPClient) echoes(rounds int) error {
	for r := range rounds {
		for range c.inflight {
			_, err := unix.Write(c.fd, c.out)
			for err == unix.EINTR {
				_, err = unix.Write(c.fd, c.out)
			}
			if err != nil {
				return err
			}
		}
		for range c.inflight {
			n, err := unix.Read(c.fd, c.in)
			for err == unix.EINTR {
				// A signal (the runtime's preemption, SIGURG) cut the
				// blocking read short: nothing was read, read again.
				n, err = unix.Read(c.fd, c.in)
			}
			if err != nil {
				return fmt.Errorf("round %d: %w", r, err)
			}
			if n != len(c.out) {
				return fmt.Errorf("round %d: %d bytes back, sent %d", r, n, len(c.out))
			}
		}
	}
	return nil
}

func runUDPEchoes(clients []*rawUDPClient, rounds int) error {
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.echoes(rounds)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestPacketEchoZeroAllocs asserts that the datagram path allocates
// nothing per datagram in steady state: receive batch, handler call,
// queued reply, sendmmsg (GSO runs included), sessions.
func TestPacketEchoZeroAllocs(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		inflight int
		popts    []PacketOption
	}{
		{name: "64B-x1", size: 64, inflight: 1},
		{name: "1200B-x8-gso", size: 1200, inflight: 8},
		{name: "64B-x8-sessions", size: 64, inflight: 8, popts: []PacketOption{WithSessions(time.Minute, 100)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, l := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", tc.popts, WithShards(2))
			to := netip.MustParseAddrPort(l.Addr().String())
			const conns, rounds = 4, 500
			clients := make([]*rawUDPClient, conns)
			for i := range clients {
				clients[i] = dialRawUDP(t, to, tc.size, tc.inflight)
			}
			if err := runUDPEchoes(clients, 50); err != nil {
				t.Fatal(err)
			}
			// Two runs, one three times the other: the difference is
			// what the extra datagrams cost, without the runs' own
			// goroutines.
			mallocs := func(rounds int) uint64 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if err := runUDPEchoes(clients, rounds); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				return after.Mallocs - before.Mallocs
			}
			short, long := mallocs(rounds), mallocs(3*rounds)
			extra := float64(long) - float64(short)
			perDatagram := max(extra, 0) / float64(conns*2*rounds*tc.inflight)
			t.Logf("%d mallocs over %d datagrams echoed, %d over %d: %.4f per extra datagram",
				short, conns*rounds*tc.inflight, long, 3*conns*rounds*tc.inflight, perDatagram)
			if perDatagram >= 0.01 {
				t.Fatalf("%.4f allocations per datagram, want < 0.01", perDatagram)
			}
		})
	}
}
