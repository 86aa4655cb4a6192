package handlers

import "github.com/shardnet/shardnet/engine"

// Echo is the echo server's handler: it writes back whatever arrives,
// without a copy on the read side, and (through BaseHandler's OnReadEOF)
// closes after the echoed bytes are out when the peer half-closes.
type Echo struct{ engine.BaseHandler }

// OnTraffic queues every buffered byte back to the peer. Loop only.
func (Echo) OnTraffic(c *engine.Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}
