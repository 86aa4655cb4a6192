package relay_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/relay"
)

// A proxy that routes each client by the first line it sends ("blue" or
// "green"), which it consumes; the backend sees only what follows.
func Example_routeByFirstLine() {
	blue, green := nameServer("blue"), nameServer("green")
	defer blue.Close()
	defer green.Close()

	bluePool, _ := relay.NewPool([]string{blue.Addr().String()})
	greenPool, _ := relay.NewPool([]string{green.Addr().String()})
	route := func(c *engine.Conn, head []byte, eof bool) (*relay.Pool, error) {
		line, _, found := bytes.Cut(head, []byte("\n"))
		if !found {
			return nil, relay.ErrNeedMore // WithSniff bounds the wait
		}
		c.Discard(len(line) + 1) // the route is for the proxy only
		switch string(line) {
		case "blue":
			return bluePool, nil
		case "green":
			return greenPool, nil
		}
		return nil, fmt.Errorf("unknown route %q", line)
	}
	px, err := relay.New(relay.WithPool(bluePool), relay.WithPool(greenPool), relay.WithRouter(route))
	if err != nil {
		panic(err)
	}
	e, err := engine.Serve(px, []string{"127.0.0.1:0"}, px.EngineOptions()...)
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	for _, msg := range []string{"green\nhello\n", "blue\nhi\n"} {
		c, _ := net.Dial("tcp", e.Addrs()[0].String())
		c.Write([]byte(msg))
		reply, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Print(reply)
		c.Close()
	}
	// Output:
	// green got "hello"
	// blue got "hi"
}

// nameServer answers each connection's first line with its name and the
// line, then closes.
func nameServer(name string) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "%s got %q\n", name, strings.TrimSuffix(line, "\n"))
			}()
		}
	}()
	return ln
}
