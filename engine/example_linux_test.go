package engine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// upper answers every line with the line in upper case.
type upper struct{ engine.BaseHandler }

func (upper) OnTraffic(c *engine.Conn) {
	b, _ := c.Next(c.Buffered())
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out[i] = ch
	}
	c.Write(out)
}

// Serve a handler on a loopback port, talk to it with the standard
// library, and stop it gracefully.
func Example() {
	e, err := engine.Serve(upper{}, []string{"tcp://127.0.0.1:0"}, engine.WithShards(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	addr := e.Addrs()[0].String()

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	nc.Write([]byte("hello, shardnet\n"))
	nc.(*net.TCPConn).CloseWrite() // BaseHandler closes after flushing on EOF
	reply, _ := io.ReadAll(nc)
	nc.Close()
	fmt.Printf("%s", reply)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("stop:", e.Stop(ctx))
	// Output:
	// HELLO, SHARDNET
	// stop: <nil>
}

// Reach a connection from another goroutine through its ID: the Handle
// offers only what is safe off the shard.
func ExampleEngine_Conn() {
	ids := make(chan uint64, 1)
	e, err := engine.Serve(&greeter{ids: ids}, []string{"127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(context.Background())
	nc, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()

	h, ok := e.Conn(<-ids)
	fmt.Println("found:", ok)
	done := make(chan error, 1)
	h.AsyncWrite([]byte("pushed from outside\n"), func(err error) { done <- err })
	fmt.Println("sent:", <-done)
	line := make([]byte, 20)
	io.ReadFull(nc, line)
	fmt.Printf("%s", line)
	// Output:
	// found: true
	// sent: <nil>
	// pushed from outside
}

type greeter struct {
	engine.BaseHandler
	ids chan uint64
}

func (g *greeter) OnOpen(c *engine.Conn) error {
	g.ids <- c.ID()
	return nil
}
