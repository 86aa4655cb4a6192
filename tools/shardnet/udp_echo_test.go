//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUDPEchoWithRealClients runs udp-echo as a process and talks to it
// with nc -u, socat and a Go client sending a request/response load; the
// totals it prints at exit must count exactly those datagrams.
func TestUDPEchoWithRealClients(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the exit totals
	}{
		{name: "plain", args: []string{"udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2"},
			want: "total: in=52 out=52 queue-drops=0 rcvbuf-drops=0 truncated=0 send-errors=0 sessions-opened=0"},
		{name: "sessions", args: []string{"udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2", "-sessions", "100"},
			want: "total: in=52 out=52 queue-drops=0 rcvbuf-drops=0 truncated=0 send-errors=0 sessions-opened=3"},
		{name: "no-offload", args: []string{"udp-echo", "-addr", "udp://127.0.0.1:0", "-gso=false", "-gro=false"},
			want: "total: in=52 out=52 "},
		{name: "busy-poll", args: []string{"udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "1", "-busy-poll", "50us"},
			want: "total: in=52 out=52 queue-drops=0 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.args...)
			host, port := hostPort(s.addr)
			// nc sends its input as one datagram and prints the reply.
			if got := runClient(t, "hello shardnet\n", "nc", "-u", "-w1", host, port); got != "hello shardnet\n" {
				t.Fatalf("nc -u: got %q", got)
			}
			if got := runClient(t, "via socat\n", "socat", "-t1", "-", "UDP:"+s.addr); got != "via socat\n" {
				t.Fatalf("socat: got %q", got)
			}
			// 50 request/response exchanges, each answer checked.
			c, err := net.Dial("udp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 512)
			for i := range 50 {
				q := strings.Repeat(string(rune('a'+i%26)), 20+i)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte(q)); err != nil {
					t.Fatal(err)
				}
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != q {
					t.Fatalf("exchange %d: %q, %v", i, buf[:n], err)
				}
			}
			out := s.stop(t)
			if !strings.Contains(out, tc.want) {
				t.Fatalf("exit totals lack %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestUDPEchoFlags(t *testing.T) {
	runDispatchCases(t, []string{"udp-echo"}, []dispatchCase{
		{name: "help shows examples", args: []string{"-help"}, wantCode: 0, wantErr: "nc -u"},
		{name: "bad network", args: []string{"-addr", "tcp://127.0.0.1:0"}, wantCode: 1, wantErr: "unknown network"},
		{name: "negative busy poll", args: []string{"-addr", "udp://127.0.0.1:0", "-busy-poll", "-1ms"}, wantCode: 2, wantErr: "WithBusyPoll"},
		{name: "bad sessions idle", args: []string{"-addr", "udp://127.0.0.1:0", "-sessions", "5", "-idle", "0s"}, wantCode: 1, wantErr: "WithSessions"},
		{name: "negative rcvbuf", args: []string{"-addr", "udp://127.0.0.1:0", "-rcvbuf", "-1"}, wantCode: 2, wantErr: "WithSocketBuffers"},
	})
}

// TestUDPEchoSocketBuffers: -rcvbuf and -sndbuf reach every shard's
// socket, as the kernel reports them to ss(8): twice what was asked, at
// most twice net.core.rmem_max (wmem_max), the kernel's bookkeeping share
// included. The echo still works.
func TestUDPEchoSocketBuffers(t *testing.T) {
	const rcv, snd = 1 << 20, 512 << 10
	s := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2", "-rcvbuf", strconv.Itoa(rcv), "-sndbuf", strconv.Itoa(snd))
	_, port := hostPort(s.addr)
	wantSocketBuffers(t, "sport = :"+port, 2, rcv, snd)
	if got := runClient(t, "buffered\n", "nc", "-u", "-w1", "127.0.0.1", port); got != "buffered\n" {
		t.Fatalf("nc -u: got %q", got)
	}
	s.stop(t)
}

// wantSocketBuffers checks that ss(8) shows n UDP sockets matching filter,
// each with the receive and send buffers that SO_RCVBUF rcv and SO_SNDBUF
// snd give (the kernel doubles both, after capping them at its maxima).
func wantSocketBuffers(t *testing.T, filter string, n, rcv, snd int) {
	t.Helper()
	wantRb := 2 * min(rcv, sysctlInt(t, "/proc/sys/net/core/rmem_max"))
	wantTb := 2 * min(snd, sysctlInt(t, "/proc/sys/net/core/wmem_max"))
	out, err := exec.Command("ss", "-uamnH", filter).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	rb := regexp.MustCompile(`\brb(\d+)`).FindAllStringSubmatch(string(out), -1)
	tb := regexp.MustCompile(`\btb(\d+)`).FindAllStringSubmatch(string(out), -1)
	if len(rb) != n || len(tb) != n {
		t.Fatalf("ss shows %d receive and %d send buffers for %q, want %d:\n%s", len(rb), len(tb), filter, n, out)
	}
	for i := range rb {
		if rb[i][1] != strconv.Itoa(wantRb) || tb[i][1] != strconv.Itoa(wantTb) {
			t.Errorf("socket %d of %q: rb%s tb%s, want rb%d tb%d:\n%s", i, filter, rb[i][1], tb[i][1], wantRb, wantTb, out)
		}
	}
}

// sysctlInt reads one integer from a /proc/sys file.
func sysctlInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}
