//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/metrics"
)

// metricsFlagHelp is the -metrics flag's text, shared with the TCP servers'.
const metricsFlagHelp = "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:7070 (off unless given; shardnet's ports are in the 7000s, clear of the 9100-9999 range exporters register)"

// udpMetricsOptions are the engine options a UDP command adds for -metrics:
// the loop-lag histogram is sampled only when something reads it.
func udpMetricsOptions(addr string) []engine.Option {
	if addr == "" {
		return nil
	}
	return []engine.Option{engine.WithLagSampling(50 * time.Millisecond)}
}

// serveUDPMetrics serves e's metrics (the datagram counters among them) at
// addr for a UDP command; with no addr it does nothing. The returned stop
// is always safe to call.
func serveUDPMetrics(name, addr string, e *engine.Engine, stdout io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	bound, stop, err := metrics.Serve(addr, metrics.New(e))
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	fmt.Fprintf(stdout, "shardnet %s: metrics on http://%s/metrics\n", name, bound)
	return stop, nil
}

// runUDPServer is the rest of a UDP command once its sockets listen: it
// serves -metrics, prints the counters every stats period (0: only at
// exit) and on SIGINT or SIGTERM stops e and prints them a last time.
func runUDPServer(name, metricsAddr string, e *engine.Engine, stats time.Duration, print func(), stdout, stderr io.Writer) int {
	stopMetrics, err := serveUDPMetrics(name, metricsAddr, e, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		e.Stop(context.Background())
		return 1
	}
	defer stopMetrics()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var tick <-chan time.Time
	if stats > 0 {
		t := time.NewTicker(stats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			print()
		case s := <-sig:
			fmt.Fprintf(stdout, "shardnet %s: %v, stopping\n", name, s)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := e.Stop(ctx)
			cancel()
			print()
			if err != nil {
				fmt.Fprintf(stderr, "shardnet %s: stop: %v\n", name, err)
				return 1
			}
			return 0
		}
	}
}
