//go:build linux

package main

import (
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
// otherwise, and -wait before SHARDNET_WAIT.
func TestRPCServerWaitMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{name: "default", want: "wait=runtime"},
		{name: "env", env: "syscall", want: "wait=syscall"},
		{name: "flag over env", env: "runtime", args: []string{"-wait", "syscall"}, want: "wait=syscall"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(waitenv.Var, tc.env)
			srv := startServer(t, append([]string{"rpc-server", "-addr", "127.0.0.1:0", "-shards", "1"}, tc.args...)...)
			if !strings.Contains(srv.line, tc.want) {
				t.Fatalf("start-up line %q, want %q", srv.line, tc.want)
			}
			res, stderr, code := runRPCBenchJSON(t, "-addr", srv.addr, "-c", "2", "-inflight", "4", "-duration", "300ms", "-shards", "1")
			if code != 0 || res.Errors != 0 || res.Calls == 0 {
				t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
			}
			srv.stop(t)
		})
	}
}

func TestRPCServerFlags(t *testing.T) {
	runDispatchCases(t, []string{"rpc-server"}, []dispatchCase{
		{name: "help names the waits", args: []string{"-help"}, wantCode: 0, wantErr: "-wait syscall"},
		{name: "bad wait", args: []string{"-wait", "epoll"}, wantCode: 2, wantErr: "-wait \"epoll\""},
	})
}
