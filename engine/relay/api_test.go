package relay_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/relay"
)

// The package's whole exported API, referenced once, in a file without a
// build constraint: it compiles on every platform (make vet checks darwin,
// freebsd and windows), so a name that only the Linux files declared would
// break the build there. It runs nothing.
var (
	_ func(...relay.Option) (*relay.Proxy, error)              = relay.New
	_ func([]string, ...relay.PoolOption) (*relay.Pool, error) = relay.NewPool
	_ func(string) bool                                        = relay.ValidAddr
	_ func(*relay.Pool) relay.Option                           = relay.WithPool
	_ func(relay.Router) relay.Option                          = relay.WithRouter
	_ func(int, time.Duration) relay.Option                    = relay.WithSniff
	_ func(bool) relay.Option                                  = relay.WithSplice
	_ func(int, int) relay.Option                              = relay.WithWatermarks
	_ func(time.Duration) relay.Option                         = relay.WithTick
	_ func(*slog.Logger) relay.Option                          = relay.WithLogger
	_ func(func(relay.Done)) relay.Option                      = relay.WithOnDone
	_ func(int) relay.Option                                   = relay.WithSendProxy
	_ func(engine.RateLimit, engine.RateLimit) relay.Option    = relay.WithRateLimit
	_ func(string) relay.PoolOption                            = relay.WithName
	_ func(string) relay.PoolOption                            = relay.WithPolicy
	_ func(time.Duration) relay.PoolOption                     = relay.WithConnectTimeout
	_ func(int) relay.PoolOption                               = relay.WithRetries
	_ func(int, time.Duration) relay.PoolOption                = relay.WithEjection
	_ func(...engine.DialOption) relay.PoolOption              = relay.WithDialOptions
	_ func(relay.HealthCheck) relay.PoolOption                 = relay.WithHealthCheck
	_ func(*relay.Proxy) []engine.Option                       = (*relay.Proxy).EngineOptions
	_ func(*relay.Proxy) relay.Stats                           = (*relay.Proxy).Stats
	_ func(*relay.Proxy, context.Context) error                = (*relay.Proxy).Drain
	_ func(*relay.Pool) []relay.BackendStats                   = (*relay.Pool).Stats
	_ engine.Handler                                           = (*relay.Proxy)(nil)
	_ engine.WaterNotifier                                     = (*relay.Proxy)(nil)
	_ func(*engine.Conn, []byte, bool) (*relay.Pool, error)    = relay.Router(nil)
	_                                                          = []error{relay.ErrNoBackend, relay.ErrNeedMore, relay.ErrSniffLimit, relay.ErrUnknownPool, relay.ErrInvalidOption, relay.ErrPoolInUse}
	_                                                          = relay.Done{}
)
