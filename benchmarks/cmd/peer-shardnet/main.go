// Command peer-shardnet is the benchmark echo and HTTP plaintext server on
// shardnet's engine: OnTraffic on its shards (one per -loops). Its echo
// handler is the shardnet command's (tools/handlers); flags, signals and the
// shared HTTP behaviour are in ../../internal/peer.
package main

import (
	"flag"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/handlers"
)

// shardnetHTTP runs on shardnet's shards (one per -loops).
type shardnetHTTP struct{ engine.BaseHandler }

// OnTraffic parses straight from the engine's Conn, which is a codec.Source.
func (shardnetHTTP) OnTraffic(c *engine.Conn) {
	s := peer.GetScratch()
	closeAfter := peer.ServeHTTP(c, s)
	if len(s.Out) > 0 {
		c.Write(s.Out)
	}
	peer.PutScratch(s)
	if closeAfter {
		c.Close()
	}
}

// busyPoll is engine.WithBusyPoll, off by default: the suites measure the
// engine as it ships, and findings compare it with the option on by hand.
var busyPoll = flag.Duration("busy-poll", 0, "engine.WithBusyPoll (0: off, the default every suite uses)")

func serveShardnet(addr, mode string, loops int) error {
	var h engine.Handler = handlers.Echo{}
	if mode == "http" {
		h = shardnetHTTP{}
	}
	wait, err := waitOptions()
	if err != nil {
		return err
	}
	opts := append([]engine.Option{engine.WithShards(loops), engine.WithBusyPoll(*busyPoll)}, wait...)
	if _, err := engine.Serve(h, []string{"tcp://" + addr}, opts...); err != nil {
		return err
	}
	peer.Ready()
	select {}
}

func main() { peer.Main("shardnet", serveShardnet) }
