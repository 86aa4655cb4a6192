package rpc

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// TestServerAllocsPerCall counts the heap allocations of the whole process
// while a plain TCP client pushes batches of 16 pipelined calls, or one call
// at a time, through a real server on loopback: once warm, framing,
// dispatch, the handler and the answer's write allocate nothing per call,
// whether the answers are gathered into one writev or a lone answer leaves
// at once (engine.Conn.Writev).
func TestServerAllocsPerCall(t *testing.T) {
	for _, depth := range []int{16, 1} {
		t.Run(fmt.Sprintf("%d in flight", depth), func(t *testing.T) { serverAllocsPerCall(t, depth) })
	}
}

func serverAllocsPerCall(t *testing.T, depth int) {
	s := startEchoServer(t, engine.WithShards(1), engine.WithTick(time.Second))
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 64
	var batch []byte
	for i := range depth {
		payload := make([]byte, size)
		payload[0] = byte(i)
		batch = append(AppendHeader(batch, Header{ID: uint64(i), Method: mEcho}, size), payload...)
	}
	want := make([]byte, len(batch))
	copy(want, batch)
	for i := range depth {
		want[i*(HeaderSize+size)+14] = byte(FlagResponse)
	}
	got := make([]byte, len(batch))
	exchange := func() {
		if _, err := c.Write(batch); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for range 200 {
		exchange()
	}
	if string(got) != string(want) {
		t.Fatalf("answers\n%x\nwant\n%x", got, want)
	}
	const rounds = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		exchange()
	}
	runtime.ReadMemStats(&after)
	perCall := float64(after.Mallocs-before.Mallocs) / float64(rounds*depth)
	t.Logf("%.4f allocations per call (%d in %d calls)", perCall, after.Mallocs-before.Mallocs, rounds*depth)
	if raceEnabled {
		t.Skip("allocation counts through sync.Pool are not meaningful under -race; make test reruns this without it")
	}
	if perCall > 0.01 {
		t.Fatalf("%.4f allocations per call on the server, want ~0", perCall)
	}
	if st := s.Stats(); st.Calls < uint64((rounds+200)*depth) {
		t.Fatalf("stats %+v", st)
	}
}
