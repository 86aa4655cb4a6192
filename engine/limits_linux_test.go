package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// limitFds lowers this process's RLIMIT_NOFILE. Go raises the soft limit to
// the hard one at start-up, so a child that wants a low limit sets it from
// inside.
func limitFds(n uint64) error {
	return unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n})
}

// closedByPeer reports whether err is what a client sees when the server
// closed or reset the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// TestMaxConns checks that a connection past WithMaxConns is closed at once,
// counted, and that the others keep working; a freed slot is usable again.
func TestMaxConns(t *testing.T) {
	const limit = 4
	e, addr := startEngine(t, echoHandler{}, WithShards(2), WithMaxConns(limit))
	var ok []net.Conn
	for i := 0; i < limit; i++ {
		nc := dialT(t, "tcp", addr)
		if !echoCheck(t, nc, i) {
			t.FailNow()
		}
		ok = append(ok, nc)
	}
	over := dialT(t, "tcp", addr)
	start := time.Now()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := over.Read(make([]byte, 1))
	if !closedByPeer(err) {
		t.Fatalf("connection past the limit: read %v, want EOF or reset", err)
	}
	// "At once": the accept path closes it, no timer is involved.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("connection past the limit closed after %v", d)
	}
	if got := e.Stats().Refused; got != 1 {
		t.Fatalf("Stats().Refused = %d, want 1", got)
	}
	for i, nc := range ok {
		if !echoCheck(t, nc, 100+i) {
			t.FailNow()
		}
	}
	ok[0].Close()
	if !waitFor(5*time.Second, func() bool { return e.Conns() == limit-1 }) {
		t.Fatalf("Conns() = %d after a close, want %d", e.Conns(), limit-1)
	}
	if !echoCheck(t, dialT(t, "tcp", addr), 200) {
		t.FailNow()
	}
}

// cpuTime returns the user+system CPU time of process pid.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces; the fields after it do not.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	// USER_HZ is 100 on every Linux ABI Go supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// TestEMFILE runs a server whose fd limit is 256 in a child process and
// opens 400 connections to it: it keeps serving those it holds, does not
// spin while out of fds, and accepts again once fds free up.
func TestEMFILE(t *testing.T) {
	ch := startChild(t, "emfile")
	const conns = 400
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		// The kernel completes the handshake into the backlog whether or
		// not the server can accept.
		ncs[i] = dialT(t, "tcp", ch.addr)
	}
	const (
		served = iota
		shed
		pending
	)
	state := make([]int, conns)
	probe := func(idx []int, write bool, wait time.Duration) {
		var wg sync.WaitGroup
		for _, i := range idx {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				nc := ncs[i]
				if write {
					if _, err := nc.Write([]byte{byte(i)}); err != nil {
						state[i] = shed
						return
					}
				}
				nc.SetReadDeadline(time.Now().Add(wait))
				b := make([]byte, 1)
				_, err := io.ReadFull(nc, b)
				switch {
				case err == nil && b[0] == byte(i):
					state[i] = served
				case err == nil:
					t.Errorf("conn %d: echo %d, want %d", i, b[0], byte(i))
				case closedByPeer(err):
					state[i] = shed
				default:
					state[i] = pending
				}
			}(i)
		}
		wg.Wait()
	}
	count := func() (n [3]int) {
		for _, s := range state {
			n[s]++
		}
		return n
	}
	all := make([]int, conns)
	for i := range all {
		all[i] = i
	}
	probe(all, true, 3*time.Second)
	n := count()
	t.Logf("saturated: %d served, %d shed, %d pending", n[served], n[shed], n[pending])
	if n[served] < 150 || n[served] >= 256 {
		t.Fatalf("%d connections served with a 256-fd limit; want 150..255", n[served])
	}

	// Saturated: the listener stays readable and accept keeps failing.
	// A server that spins burns a core; one that backs off almost nothing.
	pid := ch.cmd.Process.Pid
	before := cpuTime(t, pid)
	time.Sleep(2 * time.Second)
	used := cpuTime(t, pid) - before
	t.Logf("CPU while saturated: %v in 2 s", used)
	if used > 400*time.Millisecond {
		t.Fatalf("server used %v of CPU in 2 s while out of fds: it spins", used)
	}
	var servedIdx, pendingIdx []int
	for i, s := range state {
		switch s {
		case served:
			servedIdx = append(servedIdx, i)
		case pending:
			pendingIdx = append(pendingIdx, i)
		}
	}
	// It keeps serving the connections it has.
	for _, i := range servedIdx[:10] {
		if _, err := roundTrip(ncs[i], []byte{byte(i)}, 5*time.Second); err != nil {
			t.Fatalf("served conn %d while saturated: %v", i, err)
		}
	}
	// Free fds: the waiting connections must be accepted and answered
	// (their byte is already in the server's socket).
	for _, i := range servedIdx {
		ncs[i].Close()
	}
	probe(pendingIdx, false, 10*time.Second)
	n = count()
	t.Logf("after freeing %d fds: %d served, %d shed, %d pending", len(servedIdx), n[served], n[shed], n[pending])
	if n[pending] > 0 {
		t.Fatalf("%d connections still not accepted after fds were freed", n[pending])
	}
	if len(pendingIdx) > 0 && n[served] == len(servedIdx) {
		t.Fatal("no waiting connection was served after fds were freed")
	}
}
