// Command peer-grpc is the benchmark gRPC server: grpc-go serving the
// unary echo of ../../internal/grpcecho over Go's net (-over net) or over
// shardnet's net.Conn adapter, engine/netconn (-over shardnet, on -loops
// shards), the same grpc.Server over both. Flags and signals are
// ../../internal/peer's; -mode is echo.
//
//	peer-grpc -over shardnet -mode echo -addr 127.0.0.1:8080 -loops 1
package main

import (
	"fmt"

	"google.golang.org/grpc"

	"github.com/shardnet/shardnet/benchmarks/internal/grpcecho"
	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"github.com/shardnet/shardnet/benchmarks/internal/stdlisten"
)

func main() {
	over := stdlisten.Flag()
	peer.Main("grpc", func(addr, mode string, loops int) error {
		if mode != "echo" {
			return fmt.Errorf("-mode %s: peer-grpc serves only echo", mode)
		}
		ln, err := stdlisten.Listen(*over, addr, loops)
		if err != nil {
			return err
		}
		s := grpc.NewServer(grpc.ForceServerCodec(grpcecho.Codec{}))
		grpcecho.Register(s)
		peer.Ready()
		return s.Serve(ln)
	})
}
