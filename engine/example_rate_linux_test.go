package engine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// limitedSink reads at most 1 MB/s from each connection, all of them
// together at most 4 MB/s, and counts what it read.
type limitedSink struct {
	engine.BaseHandler
	group *engine.RateGroup
	got   chan int
}

func (h *limitedSink) OnOpen(c *engine.Conn) error {
	c.SetRateGroup(h.group)
	c.SetContext(0)
	return c.SetRateLimit(engine.RateLimit{Rate: 1_000_000}, engine.RateLimit{})
}

func (h *limitedSink) OnTraffic(c *engine.Conn) {
	n, _ := c.Discard(c.Buffered())
	c.SetContext(c.Context().(int) + n)
}

func (h *limitedSink) OnReadEOF(c *engine.Conn) {
	h.got <- c.Context().(int)
	c.Close()
}

// Limit how fast a server reads: the client's 400 kB, past the first
// burst of 100 kB, arrive at 1 MB/s, because the engine stops reading while the
// bucket is empty and TCP holds the sender back.
func ExampleConn_SetRateLimit() {
	group, err := engine.NewRateGroup(engine.RateLimit{Rate: 4_000_000}, engine.RateLimit{})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := &limitedSink{group: group, got: make(chan int, 1)}
	e, err := engine.Serve(h, []string{"tcp://127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	nc, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now()
	nc.Write(make([]byte, 400_000))
	nc.(*net.TCPConn).CloseWrite()
	n := <-h.got
	took := time.Since(start)
	io.Copy(io.Discard, nc)
	nc.Close()
	fmt.Println("read:", n)
	fmt.Println("took at least 200 ms:", took >= 200*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("stop:", e.Stop(ctx))
	// Output:
	// read: 400000
	// took at least 200 ms: true
	// stop: <nil>
}
