package netconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// runClients is the child process of TestManyConnsFromChildProcess: it
// opens SHARDNET_NETCONN_N connections to SHARDNET_NETCONN_ADDR, echoes
// one line on each, prints "ok N" with all of them still open, and closes
// them when its stdin closes.
func runClients() int {
	addr := os.Getenv("SHARDNET_NETCONN_ADDR")
	n, _ := strconv.Atoi(os.Getenv("SHARDNET_NETCONN_N"))
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		line := fmt.Sprintf("conn %d\n", i)
		if _, err := io.WriteString(c, line); err != nil {
			fmt.Println("write:", err)
			return 1
		}
		got := make([]byte, len(line))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != line {
			fmt.Printf("echo on conn %d: %q, %v\n", i, got, err)
			return 1
		}
	}
	fmt.Println("ok", len(conns))
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	return 0
}

// TestManyConnsFromChildProcess serves many connections at once through
// the adapter, each with its own goroutine (io.Copy, as a blocking server
// would), to clients in a child process; then every server goroutine must
// end and every fd close. 10,000 with STRESS=1 (7,000 under -race, whose
// detector caps live goroutines at 8128); 1,000 otherwise.
func TestManyConnsFromChildProcess(t *testing.T) {
	n := 1000
	if stress() {
		n = 10000
		if raceEnabled {
			n = 7000
		}
	}
	s := startServer(t, []Option{WithBacklog(n)})
	var wg sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	defer func() {
		s.ln.Close()
		<-accepting
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "SHARDNET_NETCONN_ADDR="+s.addr, "SHARDNET_NETCONN_N="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if want := fmt.Sprintf("ok %d\n", n); line != want {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("child said %q, want %q", line, want)
	}
	if live := s.e.Conns(); live < n {
		t.Errorf("the engine holds %d connections, want at least %d", live, n)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("server goroutines still running after the clients closed")
	}
}
