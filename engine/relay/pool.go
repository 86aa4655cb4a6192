package relay

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/balancer"
	"github.com/shardnet/shardnet/engine"
)

// Pool is a set of backends that serve the same thing, with the policy
// that spreads clients over them, the connect timeout and retries, passive
// ejection and, if asked, health checks. Make it with NewPool and give it
// to New with WithPool; one Proxy uses it.
type Pool struct {
	cfg      poolConfig
	backends []*backend
	usesPeer bool // the policy hashes the client's address

	// Set by the Proxy's OnBoot.
	owner     atomic.Pointer[Proxy]
	shards    int
	relayDial atomic.Pointer[[][]engine.DialOption] // dialOptions' by shard, for the owner's relays
}

// backend is one backend of a Pool. Its fields are shared by every shard
// that relays to it: atomics, or the health checker's own (see check).
type backend struct {
	addr string
	pool *Pool

	active      atomic.Int64 // pairs relaying to it or connecting; shards add
	healthy     atomic.Bool  // in rotation as far as health checks go; its checker writes
	ejectedTill atomic.Int64 // unix ns until which it is ejected after connect errors; any shard
	connFails   atomic.Int64 // connect errors in a row; any shard

	// Counters: shards write, Stats reads.
	connectErrors atomic.Uint64
	ejections     atomic.Uint64 // passive ejections
	downs         atomic.Uint64 // left the rotation after failed checks
	ups           atomic.Uint64 // rejoined it after passed checks
	checks        atomic.Uint64
	checkFails    atomic.Uint64
	bytesUp       atomic.Uint64 // relayed to it by pairs that have ended
	bytesDown     atomic.Uint64 // relayed from it by pairs that have ended

	hc checkState // the health checker's; only its shard touches it
}

// BackendStats is what a Backend's counters say, from Pool.Stats.
type BackendStats struct {
	Addr          string
	Active        int64  // pairs relaying to it or connecting now
	Healthy       bool   // in rotation as far as health checks go
	Ejected       bool   // skipped now after connect errors
	ConnectErrors uint64 // failed connects of clients' pairs
	Ejections     uint64 // times it was ejected after connect errors
	Downs         uint64 // times it left the rotation after failed checks
	Ups           uint64 // times it rejoined after passed checks
	Checks        uint64 // health checks run
	CheckFails    uint64 // of which failed
	// BytesUp and BytesDown are the bytes relayed to and from it by pairs
	// that have ended: a pair adds its totals once, at its end, so the
	// data path touches no counter shared between shards (the Proxy's
	// Stats count bytes as they pass).
	BytesUp, BytesDown uint64
}

// PoolOption configures a Pool in NewPool.
type PoolOption func(*poolConfig)

type poolConfig struct {
	name           string            // for log lines; default the addresses
	policy         string            // a balancer name, for usesPeer and String
	bal            balancer.Balancer // which backend a client tries first
	connectTimeout time.Duration     // per connect
	retries        int               // connects after the first, per client; -1: every backend
	ejectAfter     int               // connect errors in a row that eject
	ejectFor       time.Duration     // how long an ejection lasts; 0: never eject
	health         *HealthCheck      // nil: no active checks
	dialOpts       []engine.DialOption
}

func defaultPoolConfig() poolConfig {
	return poolConfig{
		policy:         "round-robin",
		bal:            balancer.RoundRobin(),
		connectTimeout: 3 * time.Second,
		retries:        -1,
		ejectAfter:     1,
		ejectFor:       5 * time.Second,
	}
}

// WithName names the pool in log lines. Default: its addresses.
func WithName(name string) PoolOption { return func(c *poolConfig) { c.name = name } }

// WithPolicy sets how a client's first backend is chosen, by the balancer
// package's names: "rr" (round-robin, the default), "lc" (least
// connections: the fewest active pairs), "p2c" (power of two choices),
// "hash" (the client's address: the same client, the same backend while
// the set is stable). Backends out of rotation are never chosen; the
// retries go to the next ones in order.
func WithPolicy(name string) PoolOption {
	return func(c *poolConfig) {
		c.policy = name
		c.bal, _ = balancer.Parse(name) // a nil bal names the bad policy in NewPool
	}
}

// WithConnectTimeout bounds each connect to a backend. Default 3 s.
func WithConnectTimeout(d time.Duration) PoolOption {
	return func(c *poolConfig) { c.connectTimeout = d }
}

// WithRetries caps the connects tried after a failed one for one client,
// each on the next backend, before the client sees anything. Default -1:
// every backend in rotation is tried once.
func WithRetries(n int) PoolOption { return func(c *poolConfig) { c.retries = n } }

// WithEjection sets passive ejection: after failures connect errors in a
// row (refused, timed out, unreachable), a backend leaves the rotation for
// d; the first connect after it is its test. Default 1 and 5 s; d == 0
// turns it off.
func WithEjection(failures int, d time.Duration) PoolOption {
	return func(c *poolConfig) { c.ejectAfter, c.ejectFor = failures, d }
}

// WithDialOptions adds engine dial options to every connect to the pool's
// backends (the relay sets OnShard, DialTimeout and DialHandler itself,
// after these). It is where origination options, such as TLS to the
// backends, plug in.
func WithDialOptions(opts ...engine.DialOption) PoolOption {
	return func(c *poolConfig) { c.dialOpts = append(c.dialOpts, opts...) }
}

// NewPool returns a pool of the backends at addrs ("host:port",
// "tcp://host:port", "tcp4://", "tcp6://", "unix:///path").
func NewPool(addrs []string, opts ...PoolOption) (*Pool, error) {
	cfg := defaultPoolConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case len(addrs) == 0:
		return nil, optionError("NewPool", addrs, "at least one backend address")
	case cfg.bal == nil:
		return nil, optionError("WithPolicy", cfg.policy, `"rr", "lc", "p2c" or "hash"`)
	case cfg.connectTimeout <= 0:
		return nil, optionError("WithConnectTimeout", cfg.connectTimeout, "> 0")
	case cfg.retries < -1:
		return nil, optionError("WithRetries", cfg.retries, ">= -1")
	case cfg.ejectAfter < 1 || cfg.ejectFor < 0:
		return nil, optionError("WithEjection", [2]any{cfg.ejectAfter, cfg.ejectFor}, "failures >= 1, a duration >= 0")
	}
	if cfg.health != nil {
		if err := cfg.health.validate(); err != nil {
			return nil, err
		}
	}
	for _, a := range addrs {
		if !ValidAddr(a) {
			return nil, fmt.Errorf("%w: backend %q: want host:port, tcp[46]://host:port or unix:///path", ErrInvalidOption, a)
		}
	}
	if cfg.retries == -1 || cfg.retries >= len(addrs) {
		cfg.retries = len(addrs) - 1
	}
	if cfg.name == "" {
		cfg.name = strings.Join(addrs, ",")
	}
	p := &Pool{cfg: cfg}
	switch strings.ToLower(cfg.policy) {
	case "hash", "source-hash":
		p.usesPeer = true // the others ignore the address: skip getpeername
	}
	for _, a := range addrs {
		b := &backend{addr: a, pool: p}
		b.healthy.Store(true) // up until checks say otherwise, as HAProxy starts
		p.backends = append(p.backends, b)
	}
	return p, nil
}

// ValidAddr reports whether addr is a backend address the engine's Dial
// reads: host:port, tcp[46]://host:port or unix:///path. A typo then fails
// at start-up rather than once per client.
func ValidAddr(addr string) bool {
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		return rest != ""
	}
	for _, scheme := range []string{"tcp://", "tcp4://", "tcp6://"} {
		addr = strings.TrimPrefix(addr, scheme)
	}
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != ""
}

// Stats returns each backend's counters, in the order of NewPool's
// addresses. Any goroutine.
func (p *Pool) Stats() []BackendStats {
	now := time.Now().UnixNano()
	out := make([]BackendStats, len(p.backends))
	for i, b := range p.backends {
		out[i] = BackendStats{
			Addr:          b.addr,
			Active:        b.active.Load(),
			Healthy:       b.healthy.Load(),
			Ejected:       now < b.ejectedTill.Load(),
			ConnectErrors: b.connectErrors.Load(),
			Ejections:     b.ejections.Load(),
			Downs:         b.downs.Load(),
			Ups:           b.ups.Load(),
			Checks:        b.checks.Load(),
			CheckFails:    b.checkFails.Load(),
			BytesUp:       b.bytesUp.Load(),
			BytesDown:     b.bytesDown.Load(),
		}
	}
	return out
}

// bind gives the pool to its Proxy, on OnBoot.
func (p *Pool) bind(px *Proxy, shards int) error {
	if !p.owner.CompareAndSwap(nil, px) && p.owner.Load() != px {
		return fmt.Errorf("%w: %s", ErrPoolInUse, p.cfg.name)
	}
	p.shards = shards
	byShard := make([][]engine.DialOption, shards)
	for i := range byShard {
		byShard[i] = p.newDialOptions(i, &px.up)
	}
	p.relayDial.Store(&byShard)
	return nil
}

func (p *Pool) logger() *slog.Logger { return p.owner.Load().cfg.logger }

// pick returns the index of the backend a new client tries first.
func (p *Pool) pick(peer netip.AddrPort) int {
	return p.cfg.bal.Pick((*poolLoads)(p), peer)
}

// dialOptions are the options of a relay's connect for a client on shard:
// made once per shard by bind, since Dial only reads them, instead of a
// slice and three closures per connection.
func (p *Pool) dialOptions(shard int, h engine.Handler) []engine.DialOption {
	if byShard := p.relayDial.Load(); byShard != nil && shard < len(*byShard) && h == &p.owner.Load().up {
		return (*byShard)[shard]
	}
	return p.newDialOptions(shard, h)
}

func (p *Pool) newDialOptions(shard int, h engine.Handler) []engine.DialOption {
	opts := make([]engine.DialOption, 0, len(p.cfg.dialOpts)+3)
	opts = append(opts, p.cfg.dialOpts...)
	return append(opts, engine.OnShard(shard), engine.DialTimeout(p.cfg.connectTimeout), engine.DialHandler(h))
}

// poolLoads shows the balancer each backend's active pairs; one out of
// rotation looks full, so least-connections and power-of-two choices pass
// it over (round-robin does not look, and dial skips it).
type poolLoads Pool

func (l *poolLoads) Len() int { return len(l.backends) }

func (l *poolLoads) Load(i int) int {
	b := l.backends[i]
	if !b.available(time.Now()) {
		return math.MaxInt32
	}
	return int(b.active.Load())
}

// available reports whether the backend is in rotation: healthy, and not
// ejected after connect errors.
func (b *backend) available(now time.Time) bool {
	return b.healthy.Load() && now.UnixNano() >= b.ejectedTill.Load()
}

// connectFailed counts a client's failed connect, and ejects the backend
// after the pool's number of them in a row. Any shard.
func (b *backend) connectFailed(err error) {
	b.connectErrors.Add(1)
	cfg := &b.pool.cfg
	if b.connFails.Add(1) < int64(cfg.ejectAfter) || cfg.ejectFor == 0 {
		return
	}
	now := time.Now()
	if b.ejectedTill.Swap(now.Add(cfg.ejectFor).UnixNano()) < now.UnixNano() {
		// Logged once per outage, not once per client.
		b.ejections.Add(1)
		b.pool.logger().Warn("relay: backend ejected after connect errors",
			"pool", cfg.name, "backend", b.addr, "for", cfg.ejectFor, "err", err)
	}
}

// connected resets the count of connect errors in a row.
func (b *backend) connected() {
	if b.connFails.Load() != 0 {
		b.connFails.Store(0)
	}
}
