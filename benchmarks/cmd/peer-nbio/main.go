// Command peer-nbio is the benchmark echo and HTTP plaintext server on
// lesismal/nbio: OnData on the poller goroutine that read the bytes (one
// poller per -loops); -mode udp is the same echo on nbio's UDP listener
// (a Conn per sender, kept for nbio's default UDPReadTimeout). Flags,
// signals and the shared HTTP behaviour are in ../../internal/peer. With
// -tls cert.pem,key.pem, -mode http is served over HTTPS with nbio's TLS
// (tls.go).
package main

import (
	"flag"
	"fmt"

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
	if serveNbioHTTP(&p, data, c.Write, c.Close) {
		c.SetSession(p)
	}
}

// serveNbioHTTP answers the requests in *pp's leftover and data, writes the
// answers with write, and calls close when the connection must end. What
// it cannot parse yet is kept in *pp, made when first needed (so that a
// connection that never splits a request costs nothing here): it reports
// true when it made one.
func serveNbioHTTP(pp **nbioPending, data []byte, write func([]byte) (int, error), close func() error) (made bool) {
	p := *pp
	s := peer.GetScratch()
	src := &s.Slice
	src.B = data
	if p != nil && len(p.b) > 0 {
		p.b = append(p.b, data...)
		src.B = p.b
	}
	closeAfter := peer.ServeHTTP(src, s)
	if len(s.Out) > 0 {
		write(s.Out)
	}
	rest := src.Rest()
	peer.PutScratch(s)
	if closeAfter {
		close()
		return false
	}
	switch {
	case len(rest) == 0:
		if p != nil {
			p.b = p.b[:0]
		}
	case len(rest) > peer.MaxBody+64<<10:
		close()
	default:
		if p == nil {
			p, made = &nbioPending{}, true
			*pp = p
		}
		p.b = append(p.b[:0], rest...) // copy: rest may alias the poller's buffer, or p.b itself (copy handles the overlap)
	}
	return made
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

func main() {
	tlsFiles := flag.String("tls", "", "serve HTTPS (-mode http) with nbio's TLS and this certificate chain and key, PEM files: cert.pem,key.pem")
	peer.MainUDP("nbio", func(addr, mode string, loops int) error {
		if *tlsFiles == "" {
			return serveNbio(addr, mode, loops)
		}
		if mode != "http" {
			return fmt.Errorf("-mode %s: -tls serves only http", mode)
		}
		return serveNbioTLS(addr, loops, *tlsFiles)
	}, serveNbioUDP)
}
