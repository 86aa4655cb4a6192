//go:build linux

package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/waitenv"
)

// TestProxyHonoursWaitEnv checks that the proxy command takes its wait mode
// from SHARDNET_WAIT like the other server commands (the benchmark driver
// measures one proxy binary both ways through it): a bad value stops it
// before it listens.
func TestProxyHonoursWaitEnv(t *testing.T) {
	t.Setenv(waitenv.Var, "bogus")
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runProxy([]string{"-listen", "127.0.0.1:0", "-backend", "127.0.0.1:1"}, &stdout, &stderr)
	}()
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		// A proxy that ignored the variable would be serving now; only
		// a signal stops it, so the test gives up on it.
		t.Fatalf("runProxy with %s=bogus is still running after 10 s: the variable is ignored", waitenv.Var)
	}
	if code != 2 {
		t.Fatalf("runProxy exit code %d, want 2; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), waitenv.Var) {
		t.Errorf("stderr %q does not name %s", stderr.String(), waitenv.Var)
	}
}

// TestProxyWaitFlag runs the proxy, terminating TLS or relaying plaintext,
// with -wait and SHARDNET_WAIT in each combination (the default, -wait
// auto, is the runtime wait for TLS and the blocking wait for plaintext),
// reads the wait its start-up line
// names, checks that the engine got it (under the runtime wait the shard's
// epoll fd is non-blocking, see nonblockingEpollFds), and relays 1 MiB
// through it to an echo server, checked by sha256.
func TestProxyWaitFlag(t *testing.T) {
	caFile, certFile, keyFile := writePKI(t)
	clientCfg := clientConfig(t, caFile)
	t.Setenv(waitenv.Var, "")
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0")
	for _, tc := range []struct {
		name        string
		env         string
		args        []string
		want        string
		nonblocking int  // epoll fds with O_NONBLOCK: one per shard under the runtime wait
		plain       bool // no -tls: the listener relays plaintext
	}{
		{name: "default terminating TLS", want: "wait=runtime", nonblocking: 1},
		{name: "default plaintext", plain: true, want: "wait=syscall"},
		{name: "auto plaintext", plain: true, args: []string{"-wait", "auto"}, want: "wait=syscall"},
		{name: "env over default", env: "syscall", want: "wait=syscall"},
		{name: "flag", args: []string{"-wait", "runtime"}, want: "wait=runtime", nonblocking: 1},
		{name: "env", env: "runtime", want: "wait=runtime", nonblocking: 1},
		{name: "flag over env", env: "runtime", args: []string{"-wait", "syscall"}, want: "wait=syscall"},
		{name: "pinned", args: []string{"-wait", "runtime-pinned"}, want: "wait=runtime-pinned", nonblocking: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(waitenv.Var, tc.env)
			args := []string{"-shards", "1"}
			if !tc.plain {
				args = append(args, "-tls", certFile+","+keyFile)
			}
			args = append(args, tc.args...)
			p, _ := startProxy(t, []string{echo.addr}, args...)
			if !strings.Contains(p.line, tc.want) {
				t.Fatalf("start-up line %q, want %q", p.line, tc.want)
			}
			if n := nonblockingEpollFds(t, p.cmd.Process.Pid); n != tc.nonblocking {
				t.Fatalf("%d non-blocking epoll fds, want %d", n, tc.nonblocking)
			}
			var nc net.Conn
			var err error
			if tc.plain {
				nc, err = net.DialTimeout("tcp", p.addr, 5*time.Second)
			} else {
				nc, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.addr, clientCfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			echoThrough(t, nc, 1<<20)
			nc.Close()
			p.stop(t)
		})
	}
	runDispatchCases(t, []string{"proxy"}, []dispatchCase{
		{name: "help names the waits", args: []string{"-help"}, wantCode: 0, wantErr: "-wait runtime"},
		{name: "bad wait", args: []string{"-backend", echo.addr, "-wait", "epoll"}, wantCode: 2, wantErr: "-wait \"epoll\": want auto, syscall"},
	})
	echo.stop(t)
}
