package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/handlers"
)

// Serve Echo on a loopback port; a client's half-close ends the
// conversation once its bytes have come back.
func ExampleEcho() {
	e, err := engine.Serve(handlers.Echo{}, []string{"tcp://127.0.0.1:0"}, engine.WithShards(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer e.Stop(ctx)

	nc, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	nc.Write([]byte("hello, shardnet\n"))
	nc.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(nc)
	fmt.Printf("%q %v\n", reply, err)
	// Output: "hello, shardnet\n" <nil>
}
