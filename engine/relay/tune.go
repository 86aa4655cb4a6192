package relay

// How the relay's sockets and reads are sized, and why. On loopback the
// kernel runs TCP's transmit and receive work in whichever context sends,
// so where the relay's reads and writes happen decides which CPU pays for
// it, and the busier CPU sets the rate. The measurements behind these
// sizes (iperf3 through the proxy against HAProxy) are in
// benchmarks/README.md.
const (
	// copyReadBuf is the engine's read buffer on the copy path: one read
	// per readiness moves up to this much. At the engine's default 64 KiB
	// the relay's CPU per byte makes it the bottleneck; at 256 KiB it pays
	// about a third less and the other side of the transfer sets the
	// rate. Larger buffers save nothing more.
	copyReadBuf = 256 << 10

	// copyNotSentLowat is TCP_NOTSENT_LOWAT on both sockets of a pair, on
	// the copy path: a write stops (EAGAIN, then EPOLLOUT) once this much
	// is queued but not yet sent. Without it the kernel lets megabytes
	// wait in the relay's send queue, and the receiver's ACKs, processed
	// on the receiver's CPU, transmit them there; with it the relay sends
	// from its own writes, which costs it a little CPU and spares the
	// receiver more. It bounds only unsent bytes, not the window, so it
	// costs nothing on long fat links.
	copyNotSentLowat = 256 << 10

	// spliceNotSentLowat is the same for splice, larger because fewer
	// splices to dst then end short, which keeps the relay's CPU lowest.
	spliceNotSentLowat = 512 << 10

	// spliceLeadRead is the engine's read buffer in splice mode: the
	// bytes each readiness costs a copy before splicing takes over. Reads
	// shorter than it emptied the socket and are relayed by copy, so small
	// messages never pay for splice's extra syscalls. 16 KiB is small
	// beside bulk transfers, which splicing carries at about half the
	// relay CPU of copying, and large enough that pipelined small messages
	// fit in one lead: a much smaller lead sends them through splice and
	// costs them a large part of their rate.
	spliceLeadRead = 16 << 10

	// bulkRead is the read that marks a direction as bulk: its
	// destination gets TCP_NOTSENT_LOWAT (copyNotSentLowat or
	// spliceNotSentLowat) when a read of at least this much is relayed to
	// it, not when the pair opens. Short request/response exchanges never
	// read that much at once and skip the two setsockopt calls, a
	// measurable part of a pair that lives for one request (issue 17's
	// Connection: close cell); a bulk transfer meets it on its first full
	// read. It equals spliceLeadRead, the largest read in splice mode.
	bulkRead = 16 << 10
)
