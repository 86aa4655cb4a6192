package relay

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/syncbuf"
	"golang.org/x/sys/unix"
)

// textLogger logs in slog's text form into b, which the test reads.
func textLogger(b *syncbuf.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// pong answers each "PING" line with "PONG" while answer is true, and
// otherwise reads and never answers: a stopped process, whose kernel
// still completes handshakes.
func pong(answer *atomic.Bool) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if answer.Load() && line == "PING\n" {
				c.Write([]byte("PONG\n"))
			}
		}
	}
}

// ask sends PING through the proxy and returns the first line back.
func ask(t *testing.T, addr string) string {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("PING\n"))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	return line
}

// TestHealthCheckL7EjectsSilentBackend has a backend that accepts and
// never answers: the L7 check (send PING, expect PONG) takes it out of the
// rotation after Fall failures, so every client reaches the good one, and
// brings it back after Rise passes once it answers again. A TCP connect
// check, run beside it on the same backend, never notices.
func TestHealthCheckL7EjectsSilentBackend(t *testing.T) {
	checkFds(t)
	var silentAnswers, goodAnswers atomic.Bool
	goodAnswers.Store(true)
	silent := startBackend(t, pong(&silentAnswers))
	good := startBackend(t, pong(&goodAnswers))
	hc := HealthCheck{Interval: 60 * time.Millisecond, Timeout: 50 * time.Millisecond, Fall: 2, Rise: 3,
		Send: []byte("PING\n"), Expect: []byte("PONG")}
	l7 := mustPool(t, []string{silent.addr, good.addr}, WithHealthCheck(hc), WithName("l7"))
	tcp := mustPool(t, []string{silent.addr}, WithHealthCheck(HealthCheck{Interval: 60 * time.Millisecond, Timeout: 50 * time.Millisecond, Fall: 2}), WithName("tcp"))
	var log syncbuf.Buffer
	p := startProxy(t, WithPool(l7), WithPool(tcp), WithTick(10*time.Millisecond), WithLogger(textLogger(&log)))

	waitFor(t, 5*time.Second, "the L7 check to eject the silent backend", func() bool { return !l7.Stats()[0].Healthy })
	for i := range 6 {
		if got := ask(t, p.addr); got != "PONG\n" {
			t.Fatalf("client %d got %q: sent to the silent backend?", i, got)
		}
	}
	st := l7.Stats()
	if st[0].Downs != 1 || st[0].CheckFails < 2 || !st[1].Healthy || st[1].Downs != 0 {
		t.Fatalf("L7 stats %+v", st)
	}
	if ts := tcp.Stats()[0]; !ts.Healthy || ts.CheckFails != 0 || ts.Checks == 0 {
		t.Fatalf("the TCP check should pass on a silent backend: %+v", ts)
	}
	silentAnswers.Store(true)
	waitFor(t, 5*time.Second, "the silent backend to rejoin", func() bool { return l7.Stats()[0].Healthy })
	if st := l7.Stats()[0]; st.Ups != 1 {
		t.Fatalf("after rejoining: %+v", st)
	}
	out := log.String()
	for _, want := range []string{"backend out of rotation", "backend back in rotation", "backend=" + silent.addr} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

// refusingAddr is a loopback address where nothing listens.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackholeAddr is a loopback listener whose accept queue is full: the
// kernel drops further SYNs, so a connect to it times out.
func blackholeAddr(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", itoa(int64(sa.(*unix.SockaddrInet4).Port)))
	// Fill the queue (a backlog of 0 holds one), then check that the
	// next connect hangs.
	for range 2 {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("the kernel completes connects past a full backlog here; no timeout to test")
	}
	return addr
}

// TestRetryOnConnectFailureIsInvisible puts a dead backend (refusing, or
// dropping SYNs until the connect timeout) first in the rotation: every
// client still gets its echo, the retry on the next backend counted, and
// the dead one ejected (logged once) when ejection is on.
func TestRetryOnConnectFailureIsInvisible(t *testing.T) {
	tests := []struct {
		name        string
		dead        func(*testing.T) string
		eject       time.Duration
		wantRetries uint64
	}{
		{name: "refused, ejection off", dead: refusingAddr, wantRetries: 3},
		{name: "refused, ejected", dead: refusingAddr, eject: time.Hour, wantRetries: 1},
		{name: "timeout, ejected", dead: blackholeAddr, eject: time.Hour, wantRetries: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFds(t)
			dead := tc.dead(t)
			be := startBackend(t, echo)
			pool := mustPool(t, []string{dead, be.addr}, WithConnectTimeout(150*time.Millisecond), WithEjection(1, tc.eject))
			var log syncbuf.Buffer
			p := startProxy(t, WithPool(pool), WithLogger(textLogger(&log)))
			for i := range 6 {
				c := dial(t, p.addr)
				msg := "client " + itoa(int64(i))
				c.Write([]byte(msg))
				c.CloseWrite()
				got, err := io.ReadAll(c)
				if err != nil || string(got) != msg {
					t.Fatalf("client %d got %q, %v", i, got, err)
				}
			}
			st := p.px.Stats()
			if st.Retries != tc.wantRetries || st.NoBackend != 0 || st.Relayed != 6 {
				t.Fatalf("stats %+v, want %d retries, 6 relayed", st, tc.wantRetries)
			}
			bs := pool.Stats()
			wantEjections := uint64(0)
			if tc.eject > 0 {
				wantEjections = 1
			}
			if bs[0].ConnectErrors != tc.wantRetries || bs[0].Ejections != wantEjections || bs[1].ConnectErrors != 0 {
				t.Fatalf("backend stats %+v", bs)
			}
			if n := strings.Count(log.String(), "backend ejected"); uint64(n) != wantEjections {
				t.Fatalf("%d ejection log lines, want %d:\n%s", n, wantEjections, log.String())
			}
		})
	}
}

// TestNoBackendClosesClient: when every backend is dead, the client is
// closed without a byte, and the reason is logged and counted.
func TestNoBackendClosesClient(t *testing.T) {
	checkFds(t)
	pool := mustPool(t, []string{refusingAddr(t), refusingAddr(t)})
	var log syncbuf.Buffer
	p := startProxy(t, WithPool(pool), WithLogger(textLogger(&log)))
	for range 3 {
		c := dial(t, p.addr)
		c.Write([]byte("anyone?"))
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Fatalf("got %q from no backend", got)
		}
	}
	if st := p.px.Stats(); st.NoBackend != 3 || st.Relayed != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(log.String(), "no backend answered") {
		t.Fatalf("log:\n%s", log.String())
	}
}

// TestPolicies checks how each policy spreads clients that stay connected
// over three backends.
func TestPolicies(t *testing.T) {
	tests := []struct {
		policy string
		want   func(counts []int64) bool
	}{
		{"rr", func(c []int64) bool { return c[0] == 3 && c[1] == 3 && c[2] == 3 }},
		{"lc", func(c []int64) bool { return c[0] == 3 && c[1] == 3 && c[2] == 3 }},
		// p2c gives a client to the less loaded of two backends drawn at
		// random, so no backend ever gets one while it is the most loaded
		// of all: the largest count exceeds the second largest by at most
		// one. (How far the least loaded falls behind depends on the
		// draws: [4 4 1] happens.)
		{"p2c", func(c []int64) bool {
			s := slices.Sorted(slices.Values(c))
			return s[0]+s[1]+s[2] == 9 && s[2]-s[1] <= 1
		}},
		// Every client comes from 127.0.0.1: one backend gets them all
		// (a policy blind to the address would spread them).
		{"hash", func(c []int64) bool { return max(c[0], c[1], c[2]) == 9 }},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			checkFds(t)
			var addrs []string
			for range 3 {
				addrs = append(addrs, startBackend(t, echo).addr)
			}
			pool := mustPool(t, addrs, WithPolicy(tc.policy))
			p := startProxy(t, WithPool(pool))
			for i := range 9 {
				c := dial(t, p.addr)
				c.Write([]byte("x")) // held open: lc and p2c see the load
				if b := make([]byte, 1); func() error { _, err := io.ReadFull(c, b); return err }() != nil {
					t.Fatalf("client %d: no echo", i)
				}
			}
			var counts []int64
			for _, s := range pool.Stats() {
				counts = append(counts, s.Active)
			}
			if !tc.want(counts) {
				t.Fatalf("%s spread 9 clients as %v", tc.policy, counts)
			}
		})
	}
}
