// Command peer-net is the benchmark echo and HTTP plaintext server on Go's
// net: one goroutine per connection, blocking reads and writes on the
// runtime's netpoller. Flags, signals and the shared HTTP behaviour are in
// ../../internal/peer.
package main

import (
	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"net"
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

func main() { peer.Main("net", serveNet) }
