package rpc_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/shardnet/shardnet/tools/rpc"
)

// A point and its distance from the origin, squared: a request and an
// answer as encoding/binary structs.
type point struct{ X, Y int32 }
type norm struct{ Squared int64 }

const methodNorm = 1

func Example() {
	srv, err := rpc.NewServer()
	if err != nil {
		panic(err)
	}
	codecP, codecN := rpc.BinaryCodec[point]{}, rpc.BinaryCodec[norm]{}
	srv.Handle(methodNorm, rpc.Typed(codecP, codecN, func(p *point, n *norm) error {
		n.Squared = int64(p.X)*int64(p.X) + int64(p.Y)*int64(p.Y)
		return nil
	}))
	if err := srv.Serve([]string{"127.0.0.1:0"}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Stop(ctx)

	cl, err := rpc.NewClient(srv.Addrs()[0].String(), rpc.WithConns(2))
	if err != nil {
		panic(err)
	}
	defer cl.Close(ctx)

	var n norm
	if err := rpc.CallTyped(ctx, cl, methodNorm, codecP, codecN, &point{X: 3, Y: 4}, &n); err != nil {
		panic(err)
	}
	fmt.Println("3,4 ->", n.Squared)

	_, err = cl.Call(ctx, 99, nil, nil)
	fmt.Println(err)
	// Output:
	// 3,4 -> 25
	// rpc: unknown method (status 1): no handler for this method
}

// ExampleClient_GoOn keeps each of four call streams on its own
// connection and lets each connection coalesce the calls its answers
// start: every stream calls again from its callback, on the shard.
func ExampleClient_GoOn() {
	srv, err := rpc.NewServer()
	if err != nil {
		panic(err)
	}
	srv.Handle(1, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
	if err := srv.Serve([]string{"127.0.0.1:0"}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Stop(ctx)

	cl, err := rpc.NewClient(srv.Addrs()[0].String(), rpc.WithConns(2), rpc.WithCoalescing(true))
	if err != nil {
		panic(err)
	}
	defer cl.Close(ctx)

	const streams, calls = 4, 100
	done := make(chan int, streams)
	for s := range streams {
		req := []byte(fmt.Sprint("stream ", s))
		n := 0
		var cb rpc.Callback
		cb = func(resp []byte, err error) {
			if err != nil || !bytes.Equal(resp, req) {
				done <- -1
				return
			}
			if n++; n == calls {
				done <- n
				return
			}
			if err := cl.GoOn(s, 1, req, 0, cb); err != nil {
				done <- -1
			}
		}
		if err := cl.GoOn(s, 1, req, 0, cb); err != nil {
			panic(err)
		}
	}
	total := 0
	for range streams {
		total += <-done
	}
	fmt.Println("answers checked:", total)
	// Output:
	// answers checked: 400
}
