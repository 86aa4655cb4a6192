package rpc_test

import (
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
