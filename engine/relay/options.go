package relay

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// Option configures a Proxy in New.
type Option func(*config)

// config holds a Proxy's settings; defaultConfig states every default and
// validate checks them once, in New.
type config struct {
	pools        []*Pool          // the first is the default; WithPool
	router       Router           // nil: every client goes to pools[0]
	sniffMax     int              // the head a Router may ask for
	sniffTimeout time.Duration    // how long a client may take to send it
	splice       bool             // splice(2) bulk bytes when both sides allow
	low, high    int              // each connection's watermarks, notify mode
	tick         time.Duration    // the engine tick that drives health checks
	logger       *slog.Logger     // quiet by default
	onDone       func(Done)       // called when a pair has ended; nil: none
	sendProxy    int              // PROXY protocol version sent to backends; 0: none
	rateClient   engine.RateLimit // each client's limit, both ways; zero: none
	rateTotal    engine.RateLimit // all clients together, both ways; zero: none
}

func defaultConfig() config {
	return config{
		sniffMax:     4 << 10,
		sniffTimeout: 5 * time.Second,
		low:          256 << 10,
		high:         1 << 20,
		tick:         100 * time.Millisecond,
		logger:       slog.New(slog.DiscardHandler),
	}
}

func (c *config) validate() error {
	switch {
	case len(c.pools) == 0:
		return optionError("WithPool", nil, "at least one pool")
	case c.sniffMax < 1:
		return optionError("WithSniff", c.sniffMax, "a limit >= 1")
	case c.sniffTimeout <= 0:
		return optionError("WithSniff", c.sniffTimeout, "a timeout > 0")
	case c.low < 0 || c.high < c.low || c.high < 1:
		return optionError("WithWatermarks", [2]int{c.low, c.high}, "0 <= low <= high, high >= 1")
	case c.tick <= 0:
		return optionError("WithTick", c.tick, "> 0")
	case c.logger == nil:
		return optionError("WithLogger", nil, "a logger")
	case c.sendProxy < 0 || c.sendProxy > 2:
		return optionError("WithSendProxy", c.sendProxy, "0 (off), 1 or 2")
	}
	for _, rl := range []engine.RateLimit{c.rateClient, c.rateTotal} {
		if _, err := engine.NewRateGroup(rl, rl); err != nil {
			return fmt.Errorf("%w: WithRateLimit: %w", ErrInvalidOption, err)
		}
	}
	for i, p := range c.pools {
		if p == nil {
			return optionError("WithPool", i, "a non-nil pool")
		}
	}
	return nil
}

func optionError(name string, v any, want string) error {
	return fmt.Errorf("%w: %s(%v): want %s", ErrInvalidOption, name, v, want)
}

// WithPool adds a pool of backends. The first pool is where clients go
// when there is no Router (or the Router returns a nil Pool); a Router may
// only choose pools added here, whose health checks the Proxy runs.
// Required at least once.
func WithPool(p *Pool) Option { return func(c *config) { c.pools = append(c.pools, p) } }

// WithRouter sets the hook that sees each client's first bytes and chooses
// its pool before any backend is dialed (see Router). Default none: every
// client is dialed at once, to the first pool, without reading it first.
func WithRouter(r Router) Option { return func(c *config) { c.router = r } }

// WithSniff bounds what a Router may wait for: at most max bytes (default
// 4 KiB), sent within timeout of the connection's opening (default 5 s).
// A client past either is closed (ErrSniffLimit, or a timeout).
func WithSniff(max int, timeout time.Duration) Option {
	return func(c *config) { c.sniffMax, c.sniffTimeout = max, timeout }
}

// WithSplice relays bulk bytes with splice(2), through a pipe per
// direction, when both connections are plaintext sockets (Linux; elsewhere
// it has no effect). Default off. Pass the Proxy's EngineOptions to the
// engine: splicing wants a smaller read buffer than copying.
func WithSplice(on bool) Option { return func(c *config) { c.splice = on } }

// WithWatermarks sets the queued output, per connection of a pair, past
// which the other side stops being read (high) and under which it is read
// again (low). Default 256 KiB and 1 MiB. They bound a pair's memory; high
// must stay under the engine's WithMaxQueuedOutput.
func WithWatermarks(low, high int) Option {
	return func(c *config) { c.low, c.high = low, high }
}

// WithTick sets the granularity of health checks: the engine's tick, which
// EngineOptions passes on. Default 100 ms.
func WithTick(d time.Duration) Option { return func(c *config) { c.tick = d } }

// WithLogger sets where the Proxy logs: clients that found no backend,
// backends that left or rejoined the rotation. Default: nowhere.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithOnDone sets a hook called on the shard when a pair has ended, with
// its addresses, byte counts and the reason: an access log, say. It must
// not block.
func WithOnDone(fn func(Done)) Option { return func(c *config) { c.onDone = fn } }

// WithRateLimit limits what clients send and receive with token buckets
// (engine.RateLimit): each client connection reads and writes at most
// perClient, and all of them together at most total, shared fairly among
// the clients that use it, on whatever shards they are (an
// engine.RateGroup). A zero RateLimit leaves that limit off. Limited pairs
// relay by copy: splice(2) would move bytes the buckets cannot count.
func WithRateLimit(perClient, total engine.RateLimit) Option {
	return func(c *config) { c.rateClient, c.rateTotal = perClient, total }
}

// rated reports whether clients are rate-limited.
func (c *config) rated() bool { return c.rateClient.Rate > 0 || c.rateTotal.Rate > 0 }

// engineOptions are the engine options the relay path wants.
func (c *config) engineOptions() []engine.Option {
	// The relay's marks, in notify mode, for every connection of the
	// engine: then no connection stores marks of its own (pair.notify).
	opts := []engine.Option{engine.WithTick(c.tick), engine.WithWatermarks(c.low, c.high), engine.WithWaterMode(engine.WaterNotify)}
	if c.splice {
		return append(opts, engine.WithReadBufferSize(spliceLeadRead))
	}
	return append(opts, engine.WithReadBufferSize(copyReadBuf), engine.WithReadBudget(copyReadBuf))
}
