package rpc

import (
	"log/slog"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// serverConfig is the server's options; defaultServerConfig sets every
// default.
type serverConfig struct {
	maxFrame int
	onClose  func(connID uint64, reason error)
}

func defaultServerConfig() serverConfig {
	return serverConfig{maxFrame: DefaultMaxFrame}
}

// ServerOption configures NewServer.
type ServerOption func(*serverConfig)

// WithServerMaxFrame sets the largest request frame, header included; a
// connection that announces a longer one is closed with a reason wrapping
// codec.ErrFrameTooLarge. Default DefaultMaxFrame.
func WithServerMaxFrame(n int) ServerOption { return func(c *serverConfig) { c.maxFrame = n } }

// WithConnCloseHook calls fn, on the connection's shard, whenever a
// connection closes, with its ID and the engine's reason: for a peer that
// sent a bad frame, an error wrapping engine.ErrAborted and ErrBadHeader or
// a codec sentinel (the server aborts such a connection). fn must not
// block. Default none.
func WithConnCloseHook(fn func(connID uint64, reason error)) ServerOption {
	return func(c *serverConfig) { c.onClose = fn }
}

// clientConfig is the client's options; defaultClientConfig sets every
// default.
type clientConfig struct {
	conns       int
	shards      int
	maxInflight int
	coalesce    bool
	timeout     time.Duration
	backoffMin  time.Duration
	backoffMax  time.Duration
	dialTimeout time.Duration
	maxFrame    int
	engineOpts  []engine.Option
	logger      *slog.Logger
}

func defaultClientConfig() clientConfig {
	return clientConfig{
		conns:       0, // one per shard
		maxInflight: 4096,
		timeout:     5 * time.Second,
		backoffMin:  50 * time.Millisecond,
		backoffMax:  2 * time.Second,
		dialTimeout: 3 * time.Second,
		maxFrame:    DefaultMaxFrame,
	}
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

// WithConns sets the number of connections in the pool; they are spread
// over the client engine's shards round-robin. Default one per shard.
func WithConns(n int) ClientOption { return func(c *clientConfig) { c.conns = n } }

// WithClientShards sets the client engine's shard count. Default
// GOMAXPROCS.
func WithClientShards(n int) ClientOption { return func(c *clientConfig) { c.shards = n } }

// WithMaxInflight bounds the calls in flight over the whole client: Go
// fails with ErrOverloaded past it and Call waits. Default 4096.
func WithMaxInflight(n int) ClientOption { return func(c *clientConfig) { c.maxInflight = n } }

// WithTimeout sets the timeout of calls made without their own (Go, and
// Call with a context that has no deadline). Default 5 s.
func WithTimeout(d time.Duration) ClientOption { return func(c *clientConfig) { c.timeout = d } }

// WithBackoff sets the reconnect back-off: the first retry after min, then
// doubling up to max. Default 50 ms to 2 s.
func WithBackoff(min, max time.Duration) ClientOption {
	return func(c *clientConfig) { c.backoffMin, c.backoffMax = min, max }
}

// WithDialTimeout bounds each connect. Default 3 s.
func WithDialTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.dialTimeout = d }
}

// WithClientMaxFrame sets the largest answer frame accepted, header
// included; a longer one closes the connection (its calls fail with
// ErrConnLost). Default DefaultMaxFrame.
func WithClientMaxFrame(n int) ClientOption { return func(c *clientConfig) { c.maxFrame = n } }

// WithCoalescing makes each connection hold calls started while it has
// calls in flight until they are at least as many as those (so at least
// half of its calls leave together), instead of writing them at the end of
// the shard's round: what Nagle's algorithm does for bytes, for calls. A
// held call waits at most until the connection's calls in flight have
// ended. It trades latency at light load for fewer, larger writes and
// reads on both sides when the calls on a connection are many and their
// answers come back one at a time (large messages at saturation). Use
// GoOn to keep each stream of calls on one connection. Default off.
func WithCoalescing(on bool) ClientOption { return func(c *clientConfig) { c.coalesce = on } }

// WithEngineOptions adds options for the client's engine (pinning,
// buffer sizes, a logger).
func WithEngineOptions(opts ...engine.Option) ClientOption {
	return func(c *clientConfig) { c.engineOpts = append(c.engineOpts, opts...) }
}

// WithClientLogger sets where the client logs reconnects. Default: nowhere.
func WithClientLogger(l *slog.Logger) ClientOption { return func(c *clientConfig) { c.logger = l } }
