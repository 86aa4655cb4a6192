package main

import (
	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// How the proxy's sockets and reads are sized, and why. On loopback the
// kernel runs TCP's transmit and receive work in whichever context sends,
// so where the proxy's reads and writes happen decides which CPU pays for
// it, and the busier CPU sets the rate. The measurements behind these
// sizes (iperf3 through the proxy against HAProxy) are in
// benchmarks/README.md.

const (
	// proxyReadBuf is the engine's read buffer on the copy path: one read
	// per readiness moves up to this much. At the engine's default 64 KiB
	// the proxy's CPU per byte relayed makes it the bottleneck; at 256 KiB
	// it pays about a third less and the other side of the transfer sets
	// the rate. Larger buffers save nothing more.
	proxyReadBuf = 256 << 10

	// proxyNotSentLowat is TCP_NOTSENT_LOWAT on both sockets of a pair, on
	// the copy path: a write stops (EAGAIN, then EPOLLOUT) once this much
	// is queued but not yet sent. Without it the kernel lets megabytes
	// wait in the proxy's send queue, and the receiver's ACKs, processed on
	// the receiver's CPU, transmit them there; with it the proxy sends
	// from its own writes, which costs it a little CPU and spares the
	// receiver more. It bounds only unsent bytes, not the window, so it
	// costs nothing on long fat links.
	proxyNotSentLowat = 256 << 10

	// spliceNotSentLowat is the same for -splice, larger because fewer
	// splices to dst then end short, which keeps the proxy's CPU lowest.
	spliceNotSentLowat = 512 << 10
)

// proxyOptions are the engine options of the relay path chosen.
func proxyOptions(splice bool) []engine.Option {
	// The engine's own watermarks pause reading the connection whose
	// output is queued; a proxy must pause the other one instead (else a
	// backend that echoes can deadlock against it), so they are set out
	// of reach and the relay keeps its own bound.
	opts := []engine.Option{engine.WithWatermarks(64<<20, 64<<20)}
	if splice {
		return append(opts, engine.WithReadBufferSize(spliceLeadRead))
	}
	return append(opts, engine.WithReadBufferSize(proxyReadBuf), engine.WithReadBudget(proxyReadBuf))
}

// tuneSocket sets TCP_NOTSENT_LOWAT on one of a pair's connections. Unix
// sockets refuse it, which is fine: they have no ACK clock to move. Loop
// only.
func (h *proxyHandler) tuneSocket(c *engine.Conn) {
	lowat := proxyNotSentLowat
	if h.splice {
		lowat = spliceNotSentLowat
	}
	_ = unix.SetsockoptInt(c.Fd(), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, lowat)
}
