package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sessionEcho answers through the datagram's session and records the
// sessions' lives.
type sessionEcho struct {
	mu     sync.Mutex
	opened []netip.AddrPort
	closed map[netip.AddrPort][]error
	refuse netip.AddrPort // OnSessionOpen refuses this peer
}

func newSessionEcho() *sessionEcho {
	return &sessionEcho{closed: make(map[netip.AddrPort][]error)}
}

func (h *sessionEcho) OnDatagram(pc *PacketConn, p []byte, from netip.AddrPort) {
	s := pc.Session()
	if s == nil || s.Peer() != from {
		panic("datagram without its session")
	}
	n, _ := s.Context().(int)
	s.SetContext(n + 1)
	_ = s.Write(fmt.Appendf(nil, "%s #%d", p, n+1))
}

func (h *sessionEcho) OnSessionOpen(s *Session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.Peer() == h.refuse {
		return errors.New("not this one")
	}
	h.opened = append(h.opened, s.Peer())
	return nil
}

func (h *sessionEcho) OnSessionClose(s *Session, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed[s.Peer()] = append(h.closed[s.Peer()], reason)
}

func (h *sessionEcho) closes(peer netip.AddrPort) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.closed[peer]...)
}

// TestPacketSessions checks a session's life: made on the first datagram,
// kept by traffic, refused at the cap, expired when idle (reason
// ErrTimeout), made anew by the next datagram, ended by Stop.
func TestPacketSessions(t *testing.T) {
	// Long enough that a loaded machine's stalls do not expire a session
	// whose peer sends every tenth of it.
	const idle = 2 * time.Second
	h := newSessionEcho()
	e, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", []PacketOption{WithSessions(idle, 2)}, WithShards(1))
	to := netip.MustParseAddrPort(l.Addr().String())
	a, b, c := udpClient(t, "udp4", "127.0.0.1:0"), udpClient(t, "udp4", "127.0.0.1:0"), udpClient(t, "udp4", "127.0.0.1:0")
	addrOf := func(u *net.UDPConn) netip.AddrPort { return u.LocalAddr().(*net.UDPAddr).AddrPort() }
	pa, pc := addrOf(a), addrOf(c)
	expect := func(cl *net.UDPConn, msg, want string) {
		t.Helper()
		got, _, err := udpRoundTrip(cl, to, []byte(msg))
		if err != nil || string(got) != want {
			t.Fatalf("%s: got %q, %v; want %q", msg, got, err, want)
		}
	}
	expect(a, "a", "a #1")
	expect(b, "b", "b #1")
	// The cap is 2: c is refused, its datagram dropped and counted.
	if _, err := c.WriteToUDPAddrPort([]byte("c"), to); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return packetStats(e).SessionsRefused == 1 }) {
		t.Fatalf("SessionsRefused = %d, want 1", packetStats(e).SessionsRefused)
	}
	// a keeps its session by sending more often than idle while b,
	// quiet, expires.
	deadline := time.Now().Add(10 * idle)
	for i := 2; packetStats(e).SessionsExpired == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("b's session did not expire")
		}
		time.Sleep(idle / 10)
		expect(a, "a", fmt.Sprintf("a #%d", i))
	}
	if got := h.closes(pa); len(got) != 0 {
		t.Fatalf("a's session closed while in use: %v", got)
	}
	// b's slot is free: c gets a session now.
	expect(c, "c", "c #1")
	// a goes quiet too; its next datagram opens a new session (count 1).
	if !waitFor(5*time.Second, func() bool { return len(h.closes(pa)) == 1 }) {
		t.Fatal("a's session did not expire")
	}
	if r := h.closes(pa)[0]; !errors.Is(r, ErrTimeout) {
		t.Fatalf("a's close reason %v, want ErrTimeout", r)
	}
	expect(a, "a", "a #1")
	if err := e.Stop(stopCtx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := h.closes(pa); len(got) != 2 || !errors.Is(got[1], ErrEngineStopped) {
		t.Fatalf("a's closes %v, want a timeout then ErrEngineStopped", got)
	}
	if pcCloses := h.closes(pc); len(pcCloses) != 1 {
		t.Fatalf("c's closes %v, want one", pcCloses)
	}
	st := packetStats(e)
	if st.Sessions != 0 || st.SessionsOpened != 4 {
		t.Fatalf("sessions live %d opened %d, want 0 and 4", st.Sessions, st.SessionsOpened)
	}
}

// TestPacketSessionFlood sends one datagram each from many distinct
// source addresses and ports: the session cap holds, every datagram the
// socket read either opened a session or was refused, and the kernel's
// drops account for the rest. STRESS=1 runs the 100,000 sources
// (127.0.0.2 and 127.0.0.3 × 50,000 ports).
func TestPacketSessionFlood(t *testing.T) {
	perAddr := 2500
	if stress() {
		perAddr = 50000
	}
	const maxSessions = 1000
	e, l := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", []PacketOption{WithSessions(time.Minute, maxSessions)}, WithShards(1))
	to := netip.MustParseAddrPort(l.Addr().String())
	dst := &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}
	heapBefore := liveHeap()
	sent := 0
	for _, src := range [][4]byte{{127, 0, 0, 2}, {127, 0, 0, 3}} {
		for port := 10000; port < 10000+perAddr; port++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src, Port: port}); err != nil {
				unix.Close(fd) // the port is taken here: skip it
				continue
			}
			if err := unix.Sendto(fd, []byte("hi"), 0, dst); err == nil {
				sent++
			}
			unix.Close(fd)
		}
	}
	var st PacketStats
	if !waitFor(10*time.Second, func() bool {
		st = packetStats(e)
		return st.DatagramsIn+st.RcvbufDrops == uint64(sent)
	}) {
		// The last drop count reaches us with a later datagram: send one.
		c := udpClient(t, "udp4", "")
		_, _ = c.WriteToUDPAddrPort([]byte("last"), to)
		if !waitFor(5*time.Second, func() bool {
			st = packetStats(e)
			return st.DatagramsIn+st.RcvbufDrops == uint64(sent)+1
		}) {
			t.Fatalf("read %d + dropped by the kernel %d, want %d sent", st.DatagramsIn, st.RcvbufDrops, sent)
		}
	}
	heapAfter := liveHeap()
	t.Logf("%d sources: %d read, %d dropped by the kernel, %d sessions, %d refused; live heap %d KiB before, %d KiB after",
		sent, st.DatagramsIn, st.RcvbufDrops, st.Sessions, st.SessionsRefused, heapBefore>>10, heapAfter>>10)
	// The sessions are the only state the sources leave: the heap grows
	// with the cap (a session is a few hundred bytes), not with the
	// sources. 4 KiB per session is far above one and far below what
	// every source's state would take at 100,000.
	if grown := int64(heapAfter) - int64(heapBefore); grown > maxSessions*4<<10 {
		t.Fatalf("live heap grew by %d KiB for %d sessions", grown>>10, st.Sessions)
	}
	if st.Sessions > maxSessions || st.SessionsOpened != uint64(st.Sessions) {
		t.Fatalf("%d sessions live, %d opened; cap %d", st.Sessions, st.SessionsOpened, maxSessions)
	}
	if st.SessionsOpened+st.SessionsRefused != st.DatagramsIn {
		t.Fatalf("opened %d + refused %d != read %d", st.SessionsOpened, st.SessionsRefused, st.DatagramsIn)
	}
	if st.DatagramsIn > maxSessions && st.Sessions != maxSessions {
		t.Fatalf("%d sessions after %d sources read, want the cap %d", st.Sessions, st.DatagramsIn, maxSessions)
	}
}

// liveHeap is the heap in use after a collection, in bytes.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
