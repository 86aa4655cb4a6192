//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/internal/waitenv"
)

func TestRPCWaitOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flag     string
		explicit bool
		env      string
		wantMode string
		wantErr  string
	}{
		{name: "default", flag: rpcDefaultWait, wantMode: "runtime"},
		{name: "env syscall", flag: rpcDefaultWait, env: "syscall", wantMode: "syscall"},
		{name: "env runtime-pinned", flag: rpcDefaultWait, env: "runtime-pinned", wantMode: "runtime-pinned"},
		{name: "flag beats env", flag: "syscall", explicit: true, env: "runtime", wantMode: "syscall"},
		{name: "flag runtime", flag: "runtime", explicit: true, env: "syscall", wantMode: "runtime"},
		{name: "bad flag", flag: "epoll", explicit: true, wantErr: "-wait"},
		{name: "bad env", flag: rpcDefaultWait, env: "epoll", wantErr: waitenv.Var},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, mode, err := rpcWaitOptions(tc.flag, tc.explicit, func(k string) string {
				if k != waitenv.Var {
					t.Fatalf("read %q", k)
				}
				return tc.env
			}, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || mode != tc.wantMode {
				t.Fatalf("mode %q, error %v; want %q", mode, err, tc.wantMode)
			}
			// -pin, then the wait (and for runtime-pinned its pinning).
			want := map[string]int{"syscall": 2, "runtime": 2, "runtime-pinned": 3}[mode]
			if len(opts) != want {
				t.Fatalf("%d options for %s, want %d", len(opts), mode, want)
			}
		})
	}
}

// TestRPCServerWaitMode runs the command and reads the wait it reports in
// its start-up line: the runtime wait unless -wait or SHARDNET_WAIT says
// otherwise, and -wait before SHARDNET_WAIT. It also checks that the
// engine got it: under the runtime wait the shard's epoll fd is
// non-blocking (the runtime's poller takes only such fds); the Go
// runtime's own epoll fd and a blocking wait's are not.
func TestRPCServerWaitMode(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         string
		args        []string
		want        string
		nonblocking int // epoll fds with O_NONBLOCK: one per shard under the runtime wait
	}{
		{name: "default", want: "wait=runtime", nonblocking: 1},
		{name: "env", env: "syscall", want: "wait=syscall"},
		{name: "flag over env", env: "runtime", args: []string{"-wait", "syscall"}, want: "wait=syscall"},
		{name: "flag runtime over env", env: "syscall", args: []string{"-wait", "runtime"}, want: "wait=runtime", nonblocking: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(waitenv.Var, tc.env)
			srv := startServer(t, append([]string{"rpc-server", "-addr", "127.0.0.1:0", "-shards", "1"}, tc.args...)...)
			if !strings.Contains(srv.line, tc.want) {
				t.Fatalf("start-up line %q, want %q", srv.line, tc.want)
			}
			if n := nonblockingEpollFds(t, srv.cmd.Process.Pid); n != tc.nonblocking {
				t.Fatalf("%d non-blocking epoll fds, want %d", n, tc.nonblocking)
			}
			res, stderr, code := runRPCBenchJSON(t, "-addr", srv.addr, "-c", "2", "-inflight", "4", "-duration", "300ms", "-shards", "1")
			if code != 0 || res.Errors != 0 || res.Calls == 0 {
				t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
			}
			srv.stop(t)
		})
	}
}

// nonblockingEpollFds counts the epoll fds of process pid opened with
// O_NONBLOCK, from /proc/pid/fd and fdinfo.
func nonblockingEpollFds(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			v, ok := strings.CutPrefix(line, "flags:")
			if !ok {
				continue
			}
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatalf("fdinfo flags %q: %v", v, err)
			}
			if flags&0o4000 != 0 { // O_NONBLOCK
				n++
			}
		}
	}
	return n
}

func TestRPCServerFlags(t *testing.T) {
	runDispatchCases(t, []string{"rpc-server"}, []dispatchCase{
		{name: "help names the waits", args: []string{"-help"}, wantCode: 0, wantErr: "-wait syscall"},
		{name: "bad wait", args: []string{"-wait", "epoll"}, wantCode: 2, wantErr: "-wait \"epoll\""},
	})
}
