package rpc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// TestServerTriggerModes: the server registers its connections
// edge-triggered unless its engine options say otherwise, and either way a
// pipelined burst far larger than the shard's read budget is answered
// whole and in order (edge-triggered, the reads the budget cut short must
// be resumed without a new edge).
func TestServerTriggerModes(t *testing.T) {
	tests := []struct {
		name string
		opts []engine.Option
		edge bool
	}{
		{name: "default is edge-triggered", edge: true},
		{name: "level-triggered when asked", opts: []engine.Option{engine.WithEdgeTriggered(false)}, edge: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]engine.Option{engine.WithShards(1), engine.WithReadBufferSize(4096), engine.WithReadBudget(4096)}, tc.opts...)
			s := startEchoServer(t, opts...)
			c, err := net.Dial("tcp", s.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))

			const calls, size = 3000, 64
			var batch []byte
			for i := range calls {
				payload := make([]byte, size)
				payload[0], payload[1] = byte(i), byte(i>>8)
				batch = append(AppendHeader(batch, Header{ID: uint64(i), Method: mEcho}, size), payload...)
			}
			want := make([]byte, len(batch))
			copy(want, batch)
			for i := range calls {
				want[i*(HeaderSize+size)+14] = byte(FlagResponse)
			}
			werr := make(chan error, 1)
			go func() { _, err := c.Write(batch); werr <- err }()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatal("the answers differ from the requests with the response flag set")
			}
			if st := s.Stats(); st.Calls != calls {
				t.Fatalf("server counted %d calls, want %d", st.Calls, calls)
			}
			events := serverSideEvents(t, c.LocalAddr().(*net.TCPAddr).Port)
			if got := events&unix.EPOLLET != 0; got != tc.edge {
				t.Fatalf("the server's connection is registered with events %#x: edge-triggered %v, want %v", events, got, tc.edge)
			}
		})
	}
}

// serverSideEvents finds, in this process, the server's end of the TCP
// connection whose client end has local port port, and returns the events
// it is registered with in the epoll instance that watches it (read from
// /proc/self/fdinfo). The Go runtime's own poller holds only the client's
// end, so the one registration of the server's end is the shard's.
func serverSideEvents(t *testing.T, port int) uint32 {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	server := -1
	var epolls []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if target == "anon_inode:[eventpoll]" {
			epolls = append(epolls, fd)
			continue
		}
		if !strings.HasPrefix(target, "socket:") {
			continue
		}
		if sa, err := unix.Getpeername(fd); err == nil {
			if in, ok := sa.(*unix.SockaddrInet4); ok && in.Port == port {
				server = fd
			}
		}
	}
	if server < 0 {
		t.Fatalf("no socket in this process has peer port %d", port)
	}
	want := fmt.Sprintf("tfd: %8d", server)
	for _, ep := range epolls {
		f, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", ep))
		if err != nil {
			continue // closed meanwhile
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, want) {
				continue
			}
			fields := strings.Fields(line)
			for i := 0; i+1 < len(fields); i++ {
				if fields[i] == "events:" {
					v, err := strconv.ParseUint(fields[i+1], 16, 32)
					if err != nil {
						f.Close()
						t.Fatalf("fdinfo line %q: %v", line, err)
					}
					f.Close()
					return uint32(v)
				}
			}
		}
		f.Close()
	}
	t.Fatalf("no epoll instance in this process watches fd %d", server)
	return 0
}
