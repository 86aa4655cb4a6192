// Package metrics exposes a shardnet engine's counters, and a relay
// Proxy's, to Prometheus in its standard text exposition, through
// github.com/prometheus/client_golang.
//
// A Collector reads the counters the engine already keeps (Engine.Stats,
// relay.Proxy.Stats, relay.Pool.Stats) when Prometheus scrapes, and turns
// them into metrics then: nothing is added to the engine's per-message
// path, and between scrapes the collector costs nothing. The library
// packages (engine, shard, buffer, codec, balancer, engine/relay) do not
// import client_golang; this package, under tools/, is the one that does,
// so only programs that want the exposition link it.
//
// The one histogram, shardnet_shard_loop_lag_seconds, is the engine's
// too: each shard samples its loop lag on its own timer
// (engine.WithLagSampling) into fixed buckets of atomic counters, which a
// scrape copies.
//
//	c := metrics.New(e, metrics.WithProxy(px), metrics.WithPool("web", pool))
//	stop, err := metrics.Serve("127.0.0.1:7070", c) // GET /metrics
//	...
//	stop()
//
// Names follow Prometheus conventions: a shardnet_ prefix, base units
// (_bytes, _seconds), _total on counters. Per-shard metrics carry a shard
// label; per-backend ones pool and backend labels. The Go runtime's and
// the process's standard collectors are served beside them.
//
// Threading: Collect runs on the scraping goroutine and reads only
// atomics through the Stats methods, which any goroutine may call.
package metrics
