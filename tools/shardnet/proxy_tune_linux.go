package main

import (
	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// How the proxy's sockets and reads are sized, and why. Measured with the
// benchmark's proxy suite (iperf3, one stream, the proxy alone on CPU 0,
// iperf3's client and server together on CPU 1, five interleaved rounds
// against HAProxy 2.x with its defaults): on loopback the kernel runs TCP's
// transmit and receive work in whichever context sends, so where the
// proxy's reads and writes happen decides which CPU pays for it, and the
// busier CPU sets the rate.

const (
	// proxyReadBuf is the engine's read buffer on the copy path: one read
	// per readiness moves up to this much. At the engine's 64 KiB the
	// proxy paid 550-600 ns of CPU per KiB relayed and was the bottleneck
	// (0.73-0.85 of HAProxy); at 256 KiB it pays ~360 and iperf3's side
	// of the machine becomes the limit (0.97). 512 KiB and 1 MiB measured
	// the same as 256 KiB.
	proxyReadBuf = 256 << 10

	// proxyNotSentLowat is TCP_NOTSENT_LOWAT on both sockets of a pair, on
	// the copy path: a write stops (EAGAIN, then EPOLLOUT) once this much
	// is queued but not yet sent. Without it the kernel lets megabytes
	// wait in the proxy's send queue, and the receiver's ACKs, processed on
	// the receiver's CPU, transmit them there; with it the proxy sends
	// from its own writes. iperf3's CPU per KiB fell from ~410 to ~365 ns,
	// the proxy's rose from ~360 to ~380, and throughput went from 0.97 to
	// 1.08 of HAProxy (128 KiB: 1.06, with more proxy CPU). It bounds only
	// unsent bytes, not the window, so it costs nothing on long fat links.
	proxyNotSentLowat = 256 << 10

	// spliceNotSentLowat is the same for -splice: 0.92 of HAProxy without
	// it, 1.06 with 256 or 512 KiB (128 KiB: 0.96); 512 KiB kept the
	// proxy's CPU lowest (~305 ns per KiB against ~350 at 256 KiB, and
	// HAProxy's ~320), as fewer splices to dst end short.
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
