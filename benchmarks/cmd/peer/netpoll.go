package main

import (
	"context"

	"github.com/cloudwego/netpoll"
)

// serveNetpoll runs on netpoll's event loops; OnRequest runs on netpoll's
// goroutine pool, as netpoll does by default.
func serveNetpoll(addr, mode string, loops int) error {
	if err := netpoll.SetNumLoops(loops); err != nil {
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
	ready()
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
	s := getScratch()
	closeAfter := serveHTTP(netpollSource{r}, s)
	var err error
	if len(s.out) > 0 {
		w.WriteBinary(s.out)
		err = w.Flush() // Flush returns once the bytes are written, so s.out may go back to the pool.
	}
	putScratch(s)
	r.Release()
	if closeAfter {
		c.Close()
	}
	return err
}

// netpollSource shows a netpoll Reader as a codec.Source.
type netpollSource struct{ r netpoll.Reader }

func (s netpollSource) Buffered() int              { return s.r.Len() }
func (s netpollSource) Peek(n int) ([]byte, error) { return s.r.Peek(n) }
func (s netpollSource) Discard(n int) (int, error) {
	if err := s.r.Skip(n); err != nil {
		return 0, err
	}
	return n, nil
}
