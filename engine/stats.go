package engine

import "time"

// ShardStats is a snapshot of one shard's counters.
type ShardStats struct {
	// Shard is the shard's index.
	Shard int
	// Conns is the number of live connections.
	Conns int
	// Opened and Closed count connections since New.
	Opened, Closed uint64
	// BytesIn and BytesOut count bytes read and written on the socket:
	// on TLS connections, ciphertext (records, handshakes, alerts).
	BytesIn, BytesOut uint64
	// TLSPlainIn and TLSPlainOut count the plaintext of TLS connections:
	// decrypted for the handlers, and sealed from their writes.
	TLSPlainIn, TLSPlainOut uint64
	// QueuedBytes is the output waiting to be sent in the shard's
	// connections (as of the end of the shard's last callback).
	QueuedBytes int64
	// Panics counts handler panics that aborted a connection.
	Panics uint64
	// RateWaitsRead and RateWaitsWrite count the times a rate-limited
	// connection stopped reading, or held its flush, until the next tick
	// because a bucket was empty (SetRateLimit, SetRateGroup).
	RateWaitsRead, RateWaitsWrite uint64
	// TasksQueued is the depth of the shard's task queue.
	TasksQueued int
	// TasksRun counts the tasks the shard's loop has run: hand-offs,
	// AsyncWrite batches, Handle.Do and the engine's own.
	TasksRun uint64
	// Iterations counts the loop's rounds.
	Iterations uint64
	// Busy is the time the loop spent working rather than waiting.
	Busy time.Duration
	// Lag is how long the round in progress has run (0 while the loop
	// waits): a large value means a handler blocks the shard.
	Lag time.Duration
	// LagSamples is the histogram of the shard's loop lag, sampled every
	// WithLagSampling period on the shard's timer: how late a timer due
	// on the shard ran. Empty when sampling is off.
	LagSamples LagHistogram
	// CPU is the CPU the loop's thread was last seen on.
	CPU int
	// Packets holds the shard's UDP counters.
	Packets PacketStats
}

// PacketStats counts one shard's datagrams (ListenPacket, DialPacket).
type PacketStats struct {
	// DatagramsIn and DatagramsOut count datagrams read from the sockets
	// (GRO runs counted per datagram; those of peers refused a session
	// included, truncated ones not) and taken by the kernel.
	DatagramsIn, DatagramsOut uint64
	// BytesIn and BytesOut count their payload bytes.
	BytesIn, BytesOut uint64
	// QueueDrops counts datagrams dropped because a socket's queue was at
	// its WithPacketQueue bound, or still queued when the socket closed.
	QueueDrops uint64
	// SendErrors counts datagrams the kernel refused (other than "would
	// block"), e.g. a route that does not exist.
	SendErrors uint64
	// SendWaits counts the times a socket's send buffer was full
	// (EAGAIN) and its queue waited for EPOLLOUT.
	SendWaits uint64
	// SocketErrors counts errors the sockets reported (ICMP errors on
	// connected sockets, failed sends); see PacketErrorHandler.
	SocketErrors uint64
	// RcvbufDrops counts datagrams the kernel dropped because a socket's
	// receive buffer was full (SO_RXQ_OVFL), as of the last datagram read.
	RcvbufDrops uint64
	// Truncated counts datagrams larger than a receive slot
	// (WithPacketBatch), dropped instead of delivered cut.
	Truncated uint64
	// GSOSends counts messages that carried several datagrams with
	// segmentation offload; GROBatches counts received runs the kernel
	// had coalesced; GSOFailures counts sockets that turned GSO off
	// after an error.
	GSOSends, GROBatches, GSOFailures uint64
	// Panics counts panics in OnDatagram, OnSessionClose and AsyncWriteTo
	// callbacks (each dropped that datagram or callback only).
	Panics uint64
	// Sessions is the number of live sessions (WithSessions).
	Sessions int64
	// SessionsOpened, SessionsExpired and SessionsRefused count sessions
	// made, ended by the idle timeout, and peers refused at the cap or by
	// OnSessionOpen.
	SessionsOpened, SessionsExpired, SessionsRefused uint64
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	// Shards holds each shard's counters.
	Shards []ShardStats
	// Refused counts connections closed at once because of WithMaxConns or
	// because the process was out of file descriptors.
	Refused uint64
	// TLSRefused counts TLS connections aborted because WithMaxHandshakes
	// handshakes were in progress.
	TLSRefused uint64
	// TLSFailed counts TLS connections closed before their handshake was
	// done: errors, timeouts, refusals, resets.
	TLSFailed uint64
	// TLSHandshakes counts TLS handshakes completed (the connection then
	// opened to its handler).
	TLSHandshakes uint64
	// TLSHandshakeCPU is the time TLS handshakes held their CPU slots
	// (WithHandshakeCPU): their computation, and the time they were
	// preempted meanwhile. It is what WithHandshakeShare counts.
	TLSHandshakeCPU time.Duration
	// TLSHandshakesDeferred counts the TLS handshakes that waited first
	// in line for a CPU slot while one was free: the interval's
	// WithHandshakeShare was spent. Each counts once.
	TLSHandshakesDeferred uint64
	// ProxyFailed counts connections of ListenProxyProto listeners closed
	// before their PROXY header was read: a missing or malformed header,
	// a timeout, the peer's EOF.
	ProxyFailed uint64
}
