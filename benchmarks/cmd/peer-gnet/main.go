// Command peer-gnet is the benchmark echo and HTTP plaintext server on gnet
// v2: OnTraffic on gnet's event loops (one per -loops); -mode udp is the
// same echo handler on gnet's UDP listener (one datagram per OnTraffic,
// answered with sendto). Flags, signals and
// the shared HTTP behaviour are in ../../internal/peer.
package main

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/shardnet/shardnet/benchmarks/internal/peer"
)

// gnetEcho and gnetHTTP run on gnet v2's event loops (one per -loops).
type gnetEcho struct{ gnet.BuiltinEventEngine }

func (*gnetEcho) OnBoot(gnet.Engine) gnet.Action { peer.Ready(); return gnet.None }

func (*gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

type gnetHTTP struct{ gnet.BuiltinEventEngine }

func (*gnetHTTP) OnBoot(gnet.Engine) gnet.Action { peer.Ready(); return gnet.None }

func (*gnetHTTP) OnTraffic(c gnet.Conn) gnet.Action {
	s := peer.GetScratch()
	src, _ := s.Adapter.(*gnetSource)
	if src == nil {
		src = &gnetSource{}
		s.Adapter = src
	}
	src.c = c
	closeAfter := peer.ServeHTTP(src, s)
	src.c = nil
	if len(s.Out) > 0 {
		c.Write(s.Out)
	}
	peer.PutScratch(s)
	if closeAfter {
		return gnet.Close
	}
	return gnet.None
}

// gnetSource shows a gnet connection's inbound buffer as a codec.Source.
type gnetSource struct{ c gnet.Conn }

func (s *gnetSource) Buffered() int              { return s.c.InboundBuffered() }
func (s *gnetSource) Peek(n int) ([]byte, error) { return s.c.Peek(n) }
func (s *gnetSource) Discard(n int) (int, error) { return s.c.Discard(n) }

func serveGnet(addr, mode string, loops int) error {
	var h gnet.EventHandler = &gnetEcho{}
	if mode == "http" {
		h = &gnetHTTP{}
	}
	return gnet.Run(h, "tcp://"+addr, gnet.WithNumEventLoop(loops), gnet.WithReusePort(false))
}

// serveGnetUDP runs gnetEcho on a udp:// listener: gnet reads one
// datagram per OnTraffic and Write sends it back to its sender.
func serveGnetUDP(addr string, loops int) error {
	return gnet.Run(&gnetEcho{}, "udp://"+addr, gnet.WithNumEventLoop(loops), gnet.WithReusePort(false))
}

func main() { peer.MainUDP("gnet", serveGnet, serveGnetUDP) }
