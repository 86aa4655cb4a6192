package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"go.uber.org/goleak"
)

// childEnv makes the test binary run a server instead of the tests, so a
// test can kill a real server process.
const childEnv = "SHARDNET_RPC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// The test methods.
const (
	mEcho  uint16 = 1 // fast: answers the request
	mSleep uint16 = 2 // blocking: sleeps the milliseconds in the request's first 4 bytes, then echoes
	mFail  uint16 = 3 // fast: returns an error
	mSame  uint16 = 4 // fast: returns req itself, not a copy
	mSameB uint16 = 5 // blocking: returns req itself, not a copy
)

// sleepReq is a request for mSleep.
func sleepReq(d time.Duration, tag string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(d/time.Millisecond)), tag...)
}

func register(s *Server) {
	s.Handle(mEcho, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
	s.HandleBlocking(mSleep, func(req, dst []byte) ([]byte, error) {
		if len(req) >= 4 {
			time.Sleep(time.Duration(binary.BigEndian.Uint32(req)) * time.Millisecond)
		}
		return append(dst, req...), nil
	})
	s.Handle(mFail, func(req, dst []byte) ([]byte, error) { return dst, fmt.Errorf("no luck with %q", req) })
	s.Handle(mSame, func(req, _ []byte) ([]byte, error) { return req, nil })
	s.HandleBlocking(mSameB, func(req, _ []byte) ([]byte, error) { return req, nil })
}

// startServer serves the test methods on a loopback port.
func startServer(t *testing.T, opts ...ServerOption) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	register(s)
	serveLoopback(t, s, engine.WithShards(2), engine.WithOffloadPool(64, 1024))
	return s
}

// serveLoopback serves s on a loopback port with the engine options given,
// and stops it when the test ends.
func serveLoopback(t *testing.T, s *Server, opts ...engine.Option) {
	t.Helper()
	if err := s.Serve([]string{"127.0.0.1:0"}, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
}

// startEchoServer serves mEcho alone, on the shard, on a loopback port
// with the engine options given.
func startEchoServer(t *testing.T, opts ...engine.Option) *Server {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(mEcho, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
	serveLoopback(t, s, opts...)
	return s
}

// startClient connects a client to s's first address.
func startClient(t *testing.T, addr string, opts ...ClientOption) *Client {
	t.Helper()
	cl, err := NewClient(addr, append([]ClientOption{WithClientShards(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	})
	return cl
}

// runChild serves the test methods and prints the address, until killed.
func runChild() int {
	s, err := NewServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	register(s)
	if err := s.Serve([]string{"127.0.0.1:0"}, engine.WithShards(1)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("addr %s\n", s.Addrs()[0])
	select {}
}

// startChild runs a server process and returns its address.
func startChild(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if !ok {
		t.Fatalf("child said %q", line)
	}
	return cmd, addr
}

// result is one call's outcome, as a callback saw it.
type result struct {
	i    int
	resp string
	err  error
}

// goCollect starts a call with Go whose outcome goes to ch.
func goCollect(t *testing.T, cl *Client, i int, method uint16, req []byte, timeout time.Duration, ch chan<- result) {
	t.Helper()
	err := cl.Go(method, req, timeout, func(resp []byte, err error) {
		ch <- result{i: i, resp: string(resp), err: err}
	})
	if err != nil {
		t.Fatalf("Go %d: %v", i, err)
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// engine2 is the engine options of the tests' servers.
func engine2() []engine.Option {
	return []engine.Option{engine.WithShards(2), engine.WithOffloadPool(64, 1024)}
}
