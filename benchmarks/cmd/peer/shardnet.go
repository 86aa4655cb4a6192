package main

import (
	"github.com/shardnet/shardnet/engine"
)

// shardnetEcho and shardnetHTTP run on shardnet's shards (one per -loops).
type shardnetEcho struct{ engine.BaseHandler }

func (shardnetEcho) OnTraffic(c *engine.Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}

type shardnetHTTP struct{ engine.BaseHandler }

// OnTraffic parses straight from the engine's Conn, which is a codec.Source.
func (shardnetHTTP) OnTraffic(c *engine.Conn) {
	s := getScratch()
	closeAfter := serveHTTP(c, s)
	if len(s.out) > 0 {
		c.Write(s.out)
	}
	putScratch(s)
	if closeAfter {
		c.Close()
	}
}

func serveShardnet(addr, mode string, loops int) error {
	var h engine.Handler = shardnetEcho{}
	if mode == "http" {
		h = shardnetHTTP{}
	}
	if _, err := engine.Serve(h, []string{"tcp://" + addr}, engine.WithShards(loops)); err != nil {
		return err
	}
	ready()
	select {}
}
