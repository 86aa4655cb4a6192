//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the shardnet command built once for the tests that run it as a
// real process, the way users do.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shardnet-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "shardnet")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running shardnet server process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	line   string // the start-up line
	stdout *bufio.Reader
	out    bytes.Buffer // what it printed after the start-up line
}

var listenRe = regexp.MustCompile(`listening on (\w+)://(\S+?)[ ,]`)

// startServer runs "shardnet args..." and waits for its start-up line.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startProcess(t, os.Stderr, args...)
}

// startProcess is startServer with the server's standard error going to
// stderr.
func startProcess(t *testing.T, stderr io.Writer, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stderr = stderr
	return startCmd(t, cmd)
}

// startCmd starts cmd, whose standard output begins with a start-up line
// like startServer's, and waits for that line. Its standard error goes to
// the test's unless the caller set it.
func startCmd(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stdout: bufio.NewReader(pipe)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lineCh := make(chan string, 1)
	go func() {
		line, _ := s.stdout.ReadString('\n')
		lineCh <- line
	}()
	select {
	case line := <-lineCh:
		m := listenRe.FindStringSubmatch(line + " ")
		if m == nil {
			t.Fatalf("unexpected start-up line %q", line)
		}
		s.addr, s.line = m[2], line
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return s
}

// stop sends SIGINT and returns everything the server printed after its
// start-up line; it fails the test if the server does not exit cleanly.
func (s *server) stop(t *testing.T) string {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		io.Copy(&s.out, s.stdout)
		done <- s.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, s.out.String())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Fatal("server did not stop on SIGINT")
	}
	return s.out.String()
}

// runClient runs a client program with stdin and a deadline and returns
// its standard output.
func runClient(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// needTool fails the test if the program name is not installed.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
	}
}

// freeAddr returns a loopback address nothing listens on: a port that was
// just free.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// checkDispatch runs the command line args in this process and requires
// exit code wantCode and each of want in its standard error.
func checkDispatch(t *testing.T, args []string, wantCode int, want ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := dispatch(args, &stdout, &stderr); code != wantCode {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, wantCode, stderr.String())
	}
	for _, w := range want {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
}

// dispatchCase is a command line to run in this process and what it must
// give.
type dispatchCase struct {
	name     string
	args     []string
	wantCode int
	wantErr  string // a substring of the standard error
}

// runDispatchCases runs each case as a subtest, with its args after
// prefix.
func runDispatchCases(t *testing.T, prefix []string, cases []dispatchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkDispatch(t, append(append([]string(nil), prefix...), tc.args...), tc.wantCode, tc.wantErr)
		})
	}
}

func hostPort(addr string) (string, string) {
	i := strings.LastIndex(addr, ":")
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

func TestEchoWithNetcat(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "acceptor", args: []string{"echo", "-addr", "127.0.0.1:0", "-shards", "2"}},
		{name: "reuseport", args: []string{"echo", "-addr", "127.0.0.1:0", "-shards", "2", "-reuseport"}},
		{name: "least-connections", args: []string{"echo", "-addr", "127.0.0.1:0", "-balancer", "lc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.args...)
			host, port := hostPort(s.addr)
			payload := strings.Repeat("hello shardnet\n", 1000)
			for i := 0; i < 3; i++ {
				// nc -N half-closes after stdin; the server answers,
				// then closes.
				got := runClient(t, payload, "nc", "-N", host, port)
				if got != payload {
					t.Fatalf("echo via nc: got %d bytes, want %d", len(got), len(payload))
				}
			}
			out := s.stop(t)
			if !strings.Contains(out, "total: conns=0 opened=3 closed=3") {
				t.Fatalf("totals missing or wrong:\n%s", out)
			}
		})
	}
}

func TestHelpAndErrors(t *testing.T) {
	runDispatchCases(t, nil, []dispatchCase{
		{name: "top help", args: []string{"-help"}, wantCode: 0, wantErr: "commands:"},
		{name: "echo help shows examples", args: []string{"echo", "-help"}, wantCode: 0, wantErr: "examples:"},
		{name: "unknown command", args: []string{"nope"}, wantCode: 2, wantErr: `unknown command "nope"`},
		{name: "bad balancer", args: []string{"echo", "-balancer", "zz", "-addr", "127.0.0.1:0"}, wantCode: 2, wantErr: "unknown balancer"},
	})
}

func TestDebugEndpointServesStats(t *testing.T) {
	debugAddr := freeAddr(t)
	s := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "2", "-debug", debugAddr)
	var vars struct {
		Shardnet struct {
			Shards []struct{ Shard, Conns int }
		} `json:"shardnet"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + debugAddr + "/debug/vars")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&vars)
			resp.Body.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /debug/vars: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(vars.Shardnet.Shards) != 2 {
		t.Fatalf("expvar shows %d shards, want 2: %+v", len(vars.Shardnet.Shards), vars)
	}
	resp, err := http.Get("http://" + debugAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", err, resp)
	}
	resp.Body.Close()
	s.stop(t)

	// A non-loopback -debug address is refused.
	checkDispatch(t, []string{"echo", "-addr", "127.0.0.1:0", "-debug", "0.0.0.0:6060"}, 1, "not a loopback address")
}
