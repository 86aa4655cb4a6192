// Command peer-net is the benchmark echo and HTTP plaintext server on Go's
// net: one goroutine per connection, blocking reads and writes on the
// runtime's netpoller; and its UDP echo server: one net.UDPConn, one
// goroutine reading with ReadFromUDPAddrPort and answering with
// WriteToUDPAddrPort. Flags, signals and the shared HTTP behaviour are in
// ../../internal/peer.
package main

import (
	"net"
	"net/netip"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
)

// netEchoBuffer is the read buffer of one Go net echo connection, the size
// io.Copy uses.
const netEchoBuffer = 32 << 10

// serveNet is Go's net: one goroutine per connection, blocking reads and
// writes on the runtime's netpoller.
func serveNet(addr, mode string, _ int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	peer.Ready()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		if mode == "echo" {
			go netEcho(c)
		} else {
			go netHTTP(c)
		}
	}
}

func netEcho(c net.Conn) {
	defer c.Close()
	buf := make([]byte, netEchoBuffer)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// netHTTP keeps the unparsed bytes at the front of one growing buffer and
// answers every read's complete requests with one Write.
func netHTTP(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	have := 0
	for {
		if have == len(buf) {
			if len(buf) >= peer.MaxBody+64<<10 {
				return
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
		n, err := c.Read(buf[have:])
		have += n
		if n > 0 {
			s := peer.GetScratch()
			src := &s.Slice
			src.B = buf[:have]
			closeAfter := peer.ServeHTTP(src, s)
			if len(s.Out) > 0 {
				if _, werr := c.Write(s.Out); werr != nil {
					closeAfter = true
				}
			}
			have = copy(buf, src.Rest())
			peer.PutScratch(s)
			if closeAfter {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveNetUDP is Go's net for datagrams: one socket and one goroutine
// per socket (the loops are ignored, as for TCP), blocking on the
// runtime's netpoller.
func serveNetUDP(addr string, _ int) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return err
	}
	peer.Ready()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		// A failed send loses that datagram only, as it would in the
		// network; the echo goes on.
		_, _ = c.WriteToUDPAddrPort(buf[:n], from)
	}
}

func main() { peer.MainUDP("net", serveNet, serveNetUDP) }
