package netconn

import "fmt"

// Option configures a Listener or a Dialer's connections.
type Option func(*config)

// config is what every Conn of one Listener or Dialer shares; read only
// once made.
type config struct {
	backlog     int // Listener: connections opened and not yet Accepted
	maxBuffered int // unread input past which the shard pauses reading
	writeHigh   int // queued output past which Write blocks
	chunk       int // the most one Write hands to the shard at a time
}

// defaultConfig holds every option's default.
func defaultConfig() config {
	return config{
		backlog:     4096,
		maxBuffered: 256 << 10,
		writeHigh:   256 << 10,
		chunk:       64 << 10,
	}
}

// WithBacklog bounds the Listener's queue of connections that the engine
// has opened and Accept has not yet returned; past it, new connections
// are refused (closed) and counted in Listener.Refused. Default 4096,
// the kernel's default listen backlog (somaxconn), which net.Listen uses:
// with 128, wrk's 256 connections opened at once saw about 100 refused
// while net/http's Serve loop caught up.
func WithBacklog(n int) Option { return func(c *config) { c.backlog = n } }

// WithMaxBuffered is the unread input, in bytes, past which the shard
// stops reading a connection (the peer then feels TCP's own back-pressure)
// until Read has taken it down to half. Default 256 KiB.
func WithMaxBuffered(n int) Option { return func(c *config) { c.maxBuffered = n } }

// WithWriteBuffer is the output, in bytes, that a connection's Writes may
// have queued on the shard and not yet handed to the kernel before Write
// blocks (the high watermark); Write goes on once the shard has sent
// enough to be under it. It is cut to half the engine's
// WithMaxQueuedOutput, and the chunk to the rest of it, so that the shard
// never refuses a chunk. Default 256 KiB.
func WithWriteBuffer(n int) Option { return func(c *config) { c.writeHigh = n } }

// WithWriteChunk is the most one Write hands to the shard at a time: a
// larger b goes in chunks of this size, blocking between them while the
// queued output is above the write buffer. Default 64 KiB.
func WithWriteChunk(n int) Option { return func(c *config) { c.chunk = n } }

// newConfig applies opts over the defaults and validates the result,
// naming the bad option.
func newConfig(opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.backlog < 1:
		return cfg, fmt.Errorf("netconn: WithBacklog(%d): want >= 1", cfg.backlog)
	case cfg.maxBuffered < 1:
		return cfg, fmt.Errorf("netconn: WithMaxBuffered(%d): want >= 1", cfg.maxBuffered)
	case cfg.writeHigh < 1:
		return cfg, fmt.Errorf("netconn: WithWriteBuffer(%d): want >= 1", cfg.writeHigh)
	case cfg.chunk < 1:
		return cfg, fmt.Errorf("netconn: WithWriteChunk(%d): want >= 1", cfg.chunk)
	}
	return cfg, nil
}
