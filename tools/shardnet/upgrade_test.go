//go:build linux

package main

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The restart tests run shardnet as real processes and restart them the
// ways users do: SIGUSR2 (a re-exec: each generation is the child of the
// one before) and -upgrade-sock (an unrelated new process).

// gen is one generation of a server: its pid and the file its output goes
// to. Only the first generation of a SIGUSR2 chain is the test's child;
// the test becomes the others' subreaper to reap them.
type gen struct {
	pid int
	cmd *exec.Cmd // nil for a re-exec'd generation
	log string
}

// becomeSubreaper makes the orphans of the test's children (the re-exec'd
// generations whose parent exited) the test's, so that it can reap them
// and see how they exited.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
}

// startGen starts "shardnet args..." with its output in a file of dir and
// waits for its start-up line.
func startGen(t *testing.T, dir string, args ...string) *gen {
	t.Helper()
	f, err := os.CreateTemp(dir, "gen-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gen{pid: cmd.Process.Pid, cmd: cmd, log: f.Name()}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitLog(t, g.log, regexp.MustCompile(`listening on`), 1, 20*time.Second)
	return g
}

// waitLog waits until the file at path holds at least n matches of re and
// returns the submatches of the nth.
func waitLog(t *testing.T, path string, re *regexp.Regexp, n int, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		if m := re.FindAllStringSubmatch(string(b), -1); len(m) >= n {
			return m[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q in %s after %v:\n%s", n, re, path, d, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reap waits up to d for the process pid (a child or an adopted orphan)
// to exit and returns its exit code, or -1 if it was killed by a signal.
func reap(t *testing.T, g *gen, d time.Duration) int {
	t.Helper()
	if g.cmd != nil {
		done := make(chan error, 1)
		go func() { done <- g.cmd.Wait() }()
		select {
		case <-done:
			return g.cmd.ProcessState.ExitCode()
		case <-time.After(d):
			g.cmd.Process.Kill()
			<-done
			t.Fatalf("pid %d did not exit within %v", g.pid, d)
		}
	}
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(g.pid, &ws, unix.WNOHANG, nil)
		if err == nil && got == g.pid {
			if ws.Signaled() {
				return -1
			}
			return ws.ExitStatus()
		}
		// ECHILD: its parent has not exited yet, so it is not ours.
		if time.Now().After(deadline) {
			unix.Kill(g.pid, unix.SIGKILL)
			t.Fatalf("pid %d did not exit within %v (wait4: %v)", g.pid, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killLater kills a re-exec'd generation at cleanup if the test did not
// stop it, and reaps it.
func killLater(t *testing.T, pid int) {
	t.Cleanup(func() {
		if unix.Kill(pid, 0) == nil {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
	})
}

// listenInode is the inode of the socket listening on 127.0.0.1:port, from
// /proc/net/tcp: the same inode before and after a restart means the
// socket was never closed in between.
func listenInode(t *testing.T, port int) string {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == local && fields[3] == "0A" { // 0A: LISTEN
			return fields[9]
		}
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d", port)
	return ""
}

// holdsSocket reports whether process pid has the socket inode open.
func holdsSocket(pid int, inode string) bool {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p := hostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	tookRe   = regexp.MustCompile(`took over (\d+) listening socket\(s\) from (\w[\w-]*) \(pid (\d+)\)`)
	handedRe = regexp.MustCompile(`handed the listening sockets to pid (\d+)`)
)

// wrkErrors reads wrk's report: requests done, socket errors by kind and
// non-2xx answers.
var (
	wrkReqRe  = regexp.MustCompile(`(\d+) requests in`)
	wrkSockRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2Re = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// TestUpgradeHTTPUnderWrk is the test: shardnet http under wrk,
// keep-alive and Connection: close at once, restarted 5 times with
// SIGUSR2 in a 20 s run; no connect error, no failed request, and the
// listening socket is the same one throughout.
func TestUpgradeHTTPUnderWrk(t *testing.T) {
	needTool(t, "wrk")
	becomeSubreaper(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	port := portOf(t, addr)
	first := startGen(t, dir, "http", "-addr", addr, "-shards", "2", "-drain-timeout", "10s")
	inode := listenInode(t, port)

	const run = 20 * time.Second
	type wrkOut struct {
		name string
		out  string
		err  error
	}
	results := make(chan wrkOut, 2)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"keep-alive", []string{"-t1", "-c16"}},
		{"connection-close", []string{"-t1", "-c8", "-H", "Connection: close"}},
	} {
		args := append(mode.args, "-d"+run.String(), "http://"+addr+"/plaintext")
		go func() {
			out, err := exec.Command("wrk", args...).CombinedOutput()
			results <- wrkOut{mode.name, string(out), err}
		}()
	}

	gens := []*gen{first}
	for i := 1; i <= 5; i++ {
		time.Sleep(3 * time.Second)
		cur := gens[len(gens)-1]
		if err := unix.Kill(cur.pid, unix.SIGUSR2); err != nil {
			t.Fatalf("SIGUSR2 to generation %d: %v", i-1, err)
		}
		m := waitLog(t, first.log, tookRe, i, 20*time.Second)
		pid, _ := strconv.Atoi(m[3])
		killLater(t, pid)
		if m[1] != "1" || m[2] != "parent" {
			t.Fatalf("generation %d took over %s socket(s) from %s, want 1 from parent", i, m[1], m[2])
		}
		waitLog(t, first.log, handedRe, i, 20*time.Second)
		if got := listenInode(t, port); got != inode {
			t.Fatalf("after restart %d the listening socket is inode %s, was %s: it was closed and opened again", i, got, inode)
		}
		if !holdsSocket(pid, inode) {
			t.Fatalf("generation %d (pid %d) does not hold the listening socket %s", i, pid, inode)
		}
		gens = append(gens, &gen{pid: pid, log: first.log})
	}

	for range 2 {
		select {
		case r := <-results:
			t.Logf("wrk %s:\n%s", r.name, r.out)
			if r.err != nil {
				t.Errorf("wrk %s: %v", r.name, r.err)
			}
			m := wrkReqRe.FindStringSubmatch(r.out)
			if m == nil || m[1] == "0" {
				t.Errorf("wrk %s did no request", r.name)
			}
			if m := wrkSockRe.FindStringSubmatch(r.out); m != nil {
				t.Errorf("wrk %s: socket errors: connect %s, read %s, write %s, timeout %s; want none", r.name, m[1], m[2], m[3], m[4])
			}
			if m := wrkNon2Re.FindStringSubmatch(r.out); m != nil {
				t.Errorf("wrk %s: %s non-2xx answers, want none", r.name, m[1])
			}
		case <-time.After(run + 30*time.Second):
			t.Fatal("wrk did not finish")
		}
	}
	last := gens[len(gens)-1]
	unix.Kill(last.pid, unix.SIGINT)
	for i, g := range gens {
		if code := reap(t, g, 20*time.Second); code != 0 {
			t.Errorf("generation %d (pid %d) exited with %d", i, g.pid, code)
		}
	}
	b, _ := os.ReadFile(first.log)
	if strings.Contains(string(b), "drain: ") || strings.Contains(string(b), "upgrade failed") {
		t.Errorf("a generation did not drain cleanly:\n%s", b)
	}
}

// benchSummary is what the test reads of shardnet bench -json.
type benchSummary struct {
	Messages int64 `json:"messages"`
	Errors   int64 `json:"errors"`
	Mismatch bool  `json:"mismatch"`
}

// TestUpgradeEchoUnderBench restarts shardnet echo 4 times through
// -upgrade-sock while shardnet bench runs against it back to back, each
// run's connections living 1.5 s, well under the 20 s drain deadline:
// every run must connect every connection and get every byte back, and
// each old generation must exit once its connections are done.
func TestUpgradeEchoUnderBench(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "upgrade.sock")
	addr := freeAddr(t)
	port := portOf(t, addr)
	args := []string{"echo", "-addr", addr, "-shards", "2", "-upgrade-sock", sock, "-drain-timeout", "20s"}
	cur := startGen(t, dir, args...)
	inode := listenInode(t, port)

	stop := make(chan struct{})
	var mu sync.Mutex
	var runs []benchSummary
	var failures []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			cmd := exec.Command(binary, "bench", "-addr", addr, "-c", "16", "-shards", "1", "-duration", "1500ms", "-json")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var r benchSummary
			jerr := json.Unmarshal(out, &r)
			mu.Lock()
			if err != nil || jerr != nil {
				failures = append(failures, fmt.Sprintf("bench: %v %v\n%s%s", err, jerr, out, stderr.String()))
			}
			runs = append(runs, r)
			mu.Unlock()
		}
	}()

	for i := 1; i <= 4; i++ {
		time.Sleep(2 * time.Second)
		next := startGen(t, dir, args...)
		m := waitLog(t, next.log, tookRe, 1, 20*time.Second)
		if m[1] != "1" || m[2] != "upgrade-sock" {
			t.Fatalf("generation %d took over %s socket(s) from %s, want 1 from upgrade-sock", i, m[1], m[2])
		}
		waitLog(t, cur.log, handedRe, 1, 20*time.Second)
		if got := listenInode(t, port); got != inode {
			t.Fatalf("after restart %d the listening socket is inode %s, was %s", i, got, inode)
		}
		// The old one's bench connections end within 1.5 s: it exits
		// long before its drain deadline.
		if code := reap(t, cur, 15*time.Second); code != 0 {
			b, _ := os.ReadFile(cur.log)
			t.Fatalf("generation %d exited with %d:\n%s", i-1, code, b)
		}
		if b, _ := os.ReadFile(cur.log); strings.Contains(string(b), "drain: ") {
			t.Fatalf("generation %d hit its drain deadline:\n%s", i-1, b)
		}
		cur = next
	}
	close(stop)
	wg.Wait()
	unix.Kill(cur.pid, unix.SIGINT)
	if code := reap(t, cur, 20*time.Second); code != 0 {
		t.Errorf("last generation exited with %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Error(f)
	}
	var msgs int64
	for i, r := range runs {
		if r.Errors != 0 || r.Mismatch {
			t.Errorf("bench run %d: %d errors, mismatch %v", i, r.Errors, r.Mismatch)
		}
		msgs += r.Messages
	}
	t.Logf("%d bench runs, %d messages echoed and verified across 4 restarts", len(runs), msgs)
	if len(runs) < 5 || msgs == 0 {
		t.Errorf("only %d bench runs, %d messages", len(runs), msgs)
	}
}

// TestSystemdSocketActivation starts shardnet echo under
// systemd-socket-activate, which opens the socket and passes it with
// LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES; the server must serve it (and not
// its default address), and a SIGUSR2 re-exec must pass it on through our
// own variables, the systemd ones having been cleared.
func TestSystemdSocketActivation(t *testing.T) {
	needTool(t, "systemd-socket-activate")
	becomeSubreaper(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	f, err := os.CreateTemp(dir, "activate-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// It execs the command in its own process on the first connection,
	// with LISTEN_PID set to that pid.
	cmd := exec.Command("systemd-socket-activate", "-l", addr, "--fdname=echo", binary, "echo", "-shards", "1")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gen{pid: cmd.Process.Pid, cmd: cmd, log: f.Name()}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitLog(t, g.log, regexp.MustCompile(`Listening on`), 1, 10*time.Second)
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	echoOnce(t, nc, "activated")
	m := waitLog(t, g.log, tookRe, 1, 10*time.Second)
	if m[1] != "1" || m[2] != "systemd" || m[3] != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("took over %s socket(s) from %s as pid %s; want 1 from systemd as pid %d", m[1], m[2], m[3], cmd.Process.Pid)
	}
	if line := waitLog(t, g.log, regexp.MustCompile(`listening on (\S+)`), 1, time.Second); line[1] != "tcp://"+addr {
		t.Fatalf("serves %s, want only the activated tcp://%s", line[1], addr)
	}

	if err := unix.Kill(g.pid, unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	m = waitLog(t, g.log, tookRe, 2, 20*time.Second)
	pid, _ := strconv.Atoi(m[3])
	killLater(t, pid)
	if m[1] != "1" || m[2] != "parent" {
		t.Fatalf("the re-exec took over %s socket(s) from %s, want 1 from parent", m[1], m[2])
	}
	waitLog(t, g.log, handedRe, 1, 20*time.Second)
	nc2, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, nc2, "re-executed")
	echoOnce(t, nc, "still on the old process")
	nc2.Close()
	nc.Close() // the old process's last connection: it exits
	if code := reap(t, g, 20*time.Second); code != 0 {
		t.Errorf("the activated process exited with %d", code)
	}
	unix.Kill(pid, unix.SIGINT)
	if code := reap(t, &gen{pid: pid}, 20*time.Second); code != 0 {
		t.Errorf("the re-exec'd process exited with %d", code)
	}
}

// echoOnce writes msg on nc and requires it back within 5 s.
func echoOnce(t *testing.T, nc net.Conn, msg string) {
	t.Helper()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, buf, err)
	}
}

// TestUpgradeKeepsConnections hands each server's sockets to a new
// process through -upgrade-sock while a client is connected: the new
// client is served by the new process, the old one stays with the old
// process until it closes (then the old process exits at once) or the
// drain deadline passes (then the old process closes it and exits).
func TestUpgradeKeepsConnections(t *testing.T) {
	backend := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "1")
	t.Cleanup(func() { backend.stop(t) })
	echo := func(t *testing.T, nc net.Conn, step string) { echoOnce(t, nc, step) }
	// kv shows what RESP cannot carry over: each process has its own store.
	kvSet := func(t *testing.T, nc net.Conn, _ string) {
		respCall(t, nc, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nold\r\n", "+OK\r\n")
	}
	kvGetOld := func(t *testing.T, nc net.Conn, _ string) {
		respCall(t, nc, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$3\r\nold\r\n")
	}
	kvGetNew := func(t *testing.T, nc net.Conn, _ string) {
		respCall(t, nc, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$-1\r\n")
	}
	tests := []struct {
		name      string
		args      []string
		first     func(*testing.T, net.Conn, string) // on the old process, before the hand-over
		onNew     func(*testing.T, net.Conn, string) // a new client, after it
		onOld     func(*testing.T, net.Conn, string) // the first client again
		keepOpen  bool                               // the client never closes: the deadline ends it
		wantDrain string                             // in the old process's output
		oldArgs   []string                           // the old process's own flags
		newArgs   []string                           // the new process's own flags
		wantTook  string                             // sockets the new process takes over
	}{
		{name: "echo", args: []string{"echo"}, first: echo, onNew: echo, onOld: echo},
		{name: "kv", args: []string{"kv"}, first: kvSet, onNew: kvGetNew, onOld: kvGetOld},
		{name: "proxy", args: []string{"proxy", "-backend", backend.addr}, first: echo, onNew: echo, onOld: echo},
		{name: "echo-deadline", args: []string{"echo", "-drain-timeout", "1s"}, first: echo, onNew: echo, onOld: echo,
			keepOpen: true, wantDrain: "drain: context deadline exceeded"},
		// All 3 SO_REUSEPORT sockets go to a process with 2 shards, and
		// back to one with 4, which opens a fourth.
		{name: "echo-reuseport-3-to-2", args: []string{"echo", "-reuseport"}, first: echo, onNew: echo, onOld: echo,
			oldArgs: []string{"-shards", "3"}, newArgs: []string{"-shards", "2"}, wantTook: "3"},
		{name: "echo-reuseport-2-to-4", args: []string{"echo", "-reuseport"}, first: echo, onNew: echo, onOld: echo,
			oldArgs: []string{"-shards", "2"}, newArgs: []string{"-shards", "4"}, wantTook: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			args := append(append([]string(nil), tc.args...), "-addr", addr, "-shards", "1", "-upgrade-sock", filepath.Join(dir, "u.sock"))
			old := startGen(t, dir, append(args, tc.oldArgs...)...)
			c1, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			tc.first(t, c1, "before")
			// The old process's drain deadline starts at the hand-over,
			// which cannot come before the new process starts.
			beforeNext := time.Now()
			next := startGen(t, dir, append(args, tc.newArgs...)...)
			m := waitLog(t, next.log, tookRe, 1, 20*time.Second)
			if want := cmp.Or(tc.wantTook, "1"); m[1] != want {
				t.Fatalf("the new process took over %s sockets, want %s", m[1], want)
			}
			waitLog(t, old.log, handedRe, 1, 20*time.Second)
			c2, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			tc.onNew(t, c2, "new client")
			// More clients, to reach every socket of a reuse-port set:
			// none is refused or left unanswered.
			for i := 0; i < 16; i++ {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				tc.onNew(t, c, fmt.Sprintf("client %d", i))
				c.Close()
			}
			tc.onOld(t, c1, "old client")
			closedAfter := make(chan time.Duration, 1)
			if tc.keepOpen {
				// The client closes only once the server did (its
				// deadline): then it reads EOF.
				go func() {
					c1.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, err := c1.Read(make([]byte, 1))
					d := time.Since(beforeNext)
					if err == nil {
						d = -1 // data, not a close
					}
					c1.Close()
					closedAfter <- d
				}()
			} else {
				c1.Close()
			}
			if code := reap(t, old, 15*time.Second); code != 0 {
				t.Fatalf("the old process exited with %d", code)
			}
			b, _ := os.ReadFile(old.log)
			if tc.wantDrain == "" && strings.Contains(string(b), "drain: ") {
				t.Fatalf("the old process hit its drain deadline with no client left:\n%s", b)
			}
			if tc.wantDrain != "" {
				if !strings.Contains(string(b), tc.wantDrain) {
					t.Fatalf("want %q in the old process's output:\n%s", tc.wantDrain, b)
				}
				switch d := <-closedAfter; {
				case d < 0:
					t.Fatal("the old client read data after the hand-over, want a close")
				case d < time.Second:
					t.Fatalf("the old process closed its client %v after the new one started, before its 1 s drain deadline", d)
				}
			}
			tc.onNew(t, c2, "after the old one left")
			c2.Close()
			unix.Kill(next.pid, unix.SIGINT)
			if code := reap(t, next, 20*time.Second); code != 0 {
				t.Fatalf("the new process exited with %d", code)
			}
		})
	}
}

// respCall writes a RESP command and requires the exact reply.
func respCall(t *testing.T, nc net.Conn, cmd, want string) {
	t.Helper()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, cmd); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != want {
		t.Fatalf("%q answered %q (%v), want %q", cmd, buf, err, want)
	}
}

// TestUpgradeTLS: a TLS echo server handing its socket to a new process
// serves TLS on it there too (the socket carries no TLS of its own: the
// new process passes its -tls to ListenFiles), and no client meets
// plaintext.
func TestUpgradeTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writePKI(t)
	cfg := clientConfig(t, caFile)
	addr := freeAddr(t)
	args := []string{"echo", "-addr", addr, "-shards", "1", "-tls", certFile + "," + keyFile, "-upgrade-sock", filepath.Join(dir, "u.sock")}
	tlsEcho := func(step string) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		defer c.Close()
		echoOnce(t, c, step)
	}
	old := startGen(t, dir, args...)
	tlsEcho("before")
	next := startGen(t, dir, args...)
	waitLog(t, next.log, tookRe, 1, 20*time.Second)
	waitLog(t, old.log, handedRe, 1, 20*time.Second)
	for i := range 8 {
		tlsEcho(fmt.Sprintf("after, client %d", i))
	}
	next.cmd.Process.Signal(unix.SIGINT)
	if code := reap(t, next, 20*time.Second); code != 0 {
		t.Errorf("the new process exited %d", code)
	}
	if code := reap(t, old, 40*time.Second); code != 0 {
		t.Errorf("the old process exited %d", code)
	}
}
