// Command peer-netpoll is the benchmark echo and HTTP plaintext server on
// cloudwego/netpoll: OnRequest on netpoll's goroutine pool, loops set by
// -loops. Flags, signals and the shared HTTP behaviour are in
// ../../internal/peer.
package main

import (
	"context"

	"github.com/cloudwego/netpoll"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
)

// serveNetpoll runs on netpoll's event loops; OnRequest runs on netpoll's
// goroutine pool, as netpoll does by default.
func serveNetpoll(addr, mode string, loops int) error {
	if err := netpoll.Configure(netpoll.Config{PollerNum: loops}); err != nil {
		return err
	}
	ln, err := netpoll.CreateListener("tcp", addr)
	if err != nil {
		return err
	}
	handle := netpollEcho
	if mode == "http" {
		handle = netpollHTTP
	}
	loop, err := netpoll.NewEventLoop(handle)
	if err != nil {
		return err
	}
	peer.Ready()
	return loop.Serve(ln)
}

func netpollEcho(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	b, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	w.WriteBinary(b)
	err = w.Flush()
	r.Release()
	return err
}

func netpollHTTP(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	s := peer.GetScratch()
	src, _ := s.Adapter.(*netpollSource)
	if src == nil {
		src = &netpollSource{}
		s.Adapter = src
	}
	src.r = r
	closeAfter := peer.ServeHTTP(src, s)
	src.r = nil
	var err error
	if len(s.Out) > 0 {
		w.WriteBinary(s.Out)
		err = w.Flush() // Flush returns once the bytes are written, so s.Out may go back to the pool.
	}
	peer.PutScratch(s)
	r.Release()
	if closeAfter {
		c.Close()
	}
	return err
}

// netpollSource shows a netpoll Reader as a codec.Source.
type netpollSource struct{ r netpoll.Reader }

func (s *netpollSource) Buffered() int              { return s.r.Len() }
func (s *netpollSource) Peek(n int) ([]byte, error) { return s.r.Peek(n) }
func (s *netpollSource) Discard(n int) (int, error) {
	if err := s.r.Skip(n); err != nil {
		return 0, err
	}
	return n, nil
}

func main() { peer.Main("netpoll", serveNetpoll) }
