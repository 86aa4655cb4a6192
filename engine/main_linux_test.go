package engine

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

// stressFlag turns on the runs too heavy for CI (10,000 connections, a
// server in a child process). SHARDNET_STRESS=1 or STRESS=1 (the Makefile's
// switch) does the same.
var stressFlag = flag.Bool("engine.stress", false, "run the engine's heavy stress tests")

func stress() bool {
	return *stressFlag || os.Getenv("SHARDNET_STRESS") == "1" || os.Getenv("STRESS") == "1"
}

// childEnv, when set, makes the test binary run a server instead of the
// tests: the parent re-executes itself so that the server has its own
// process (its own fd limit, its own CPU time to measure).
const childEnv = "SHARDNET_ENGINE_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	// Every test must leave no goroutine behind; per-test checks (stop
	// tests) use goleak.VerifyNone as well.
	goleak.VerifyTestMain(m)
}

// echoHandler sends back every byte it gets.
type echoHandler struct{ BaseHandler }

func (echoHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	_, _ = c.Write(b)
}

// startEngine starts an engine with h on a loopback port and returns it and
// the address. Cleanup stops it (within 10 s, which must succeed) and then
// checks that every fd the engine opened is closed. Clients the test opens
// after startEngine are closed by their own cleanups, which run first.
func startEngine(t testing.TB, h Handler, opts ...Option) (*Engine, string) {
	t.Helper()
	return startEngineAt(t, h, "tcp://127.0.0.1:0", opts...)
}

func startEngineAt(t testing.TB, h Handler, addr string, opts ...Option) (*Engine, string) {
	t.Helper()
	base := fdcheck.Baseline(t)
	e, err := New(h, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bound, err := e.Listen(addr)
	if err != nil {
		e.Stop(context.Background())
		t.Fatalf("Listen(%s): %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		fdcheck.Check(t, base)
	})
	return e, bound.String()
}

// dialT dials addr and closes the connection at cleanup.
func dialT(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// roundTrip writes msg and reads len(msg) bytes back within d.
func roundTrip(nc net.Conn, msg []byte, d time.Duration) ([]byte, error) {
	nc.SetDeadline(time.Now().Add(d))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(msg); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(nc, got)
	return got, err
}

// stopCtx is a context for Stop in tests.
func stopCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// child is a server in a child process: the test binary re-executed with
// childEnv=mode. It prints its address on its first stdout line and serves
// until its stdin closes.
type child struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startChild(t testing.TB, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		ch.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("child %s: %v", mode, err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("child %s did not stop within 20 s", mode)
		}
	})
	lineC := make(chan string, 1)
	go func() {
		line, _ := ch.out.ReadString('\n')
		lineC <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lineC:
		if line == "" {
			t.Fatalf("child %s printed no address", mode)
		}
		ch.addr = line
	case <-time.After(20 * time.Second):
		t.Fatalf("child %s did not start within 20 s", mode)
	}
	return ch
}

// runChild is the child's main. Modes: "echo" (a plain echo server),
// "emfile" (an echo server whose fd limit is 256), "mem-plain",
// "mem-tls" and "mem-nettls" (echo servers that report their memory; see
// runMemChild), "tls-flood" (see runFloodChild), "tls-flooder" (see
// runFlooderChild), "tls-http-client" (see
// runTLSHTTPClient).
func runChild(mode string) int {
	var opts []Option
	switch mode {
	case "mem-plain", "mem-tls", "mem-nettls":
		return runMemChild(strings.TrimPrefix(mode, "mem-"))
	case "tls-flood":
		return runFloodChild()
	case "tls-flooder":
		return runFlooderChild()
	case "tls-http-client":
		return runTLSHTTPClient()
	case "echo":
	case "emfile":
		if err := limitFds(256); err != nil {
			fmt.Fprintln(os.Stderr, "child: setrlimit:", err)
			return 2
		}
		opts = append(opts, WithShards(2))
	default:
		fmt.Fprintln(os.Stderr, "child: unknown mode", mode)
		return 2
	}
	e, err := New(echoHandler{}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println(addr.String())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "child: stop:", err)
		return 1
	}
	return 0
}
