// Command peer-nbio is the benchmark echo and HTTP plaintext server on
// lesismal/nbio: OnData on the poller goroutine that read the bytes (one
// poller per -loops); -mode udp is the same echo on nbio's UDP listener
// (a Conn per sender, kept for nbio's default UDPReadTimeout). Flags,
// signals and the shared HTTP behaviour are in ../../internal/peer.
package main

import (
	"github.com/lesismal/nbio"
	"github.com/shardnet/shardnet/benchmarks/internal/peer"
)

// serveNbio runs on nbio's pollers (one per -loops); OnData runs on the
// poller goroutine that read the bytes (nbio's default).
func serveNbio(addr, mode string, loops int) error {
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}, NPoller: loops})
	if mode == "echo" {
		e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	} else {
		e.OnData(nbioHTTP)
	}
	if err := e.Start(); err != nil {
		return err
	}
	peer.Ready()
	select {}
}

// nbioPending is an HTTP connection's unparsed leftover between reads; nbio
// hands each read's bytes in the poller's buffer and keeps none itself.
type nbioPending struct{ b []byte }

func nbioHTTP(c *nbio.Conn, data []byte) {
	p, _ := c.Session().(*nbioPending)
	s := peer.GetScratch()
	src := &s.Slice
	src.B = data
	if p != nil && len(p.b) > 0 {
		p.b = append(p.b, data...)
		src.B = p.b
	}
	closeAfter := peer.ServeHTTP(src, s)
	if len(s.Out) > 0 {
		c.Write(s.Out)
	}
	rest := src.Rest()
	peer.PutScratch(s)
	if closeAfter {
		c.Close()
		return
	}
	switch {
	case len(rest) == 0:
		if p != nil {
			p.b = p.b[:0]
		}
	case len(rest) > peer.MaxBody+64<<10:
		c.Close()
	default:
		if p == nil {
			p = &nbioPending{}
			c.SetSession(p)
		}
		p.b = append(p.b[:0], rest...) // copy: rest may alias the poller's buffer, or p.b itself (copy handles the overlap)
	}
}

// serveNbioUDP is serveNbio's echo on a UDP socket: nbio reads one
// datagram per recvfrom and hands it to OnData with the sender's Conn,
// whose Write is a sendto.
func serveNbioUDP(addr string, loops int) error {
	e := nbio.NewEngine(nbio.Config{Network: "udp", Addrs: []string{addr}, NPoller: loops})
	e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := e.Start(); err != nil {
		return err
	}
	peer.Ready()
	select {}
}

func main() { peer.MainUDP("nbio", serveNbio, serveNbioUDP) }
