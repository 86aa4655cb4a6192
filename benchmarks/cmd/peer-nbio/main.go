// Command peer-nbio is the benchmark echo and HTTP plaintext server on
// lesismal/nbio: OnData on the poller goroutine that read the bytes (one
// poller per -loops). Flags, signals and the shared HTTP behaviour are in
// ../../internal/peer.
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

func main() { peer.Main("nbio", serveNbio) }
