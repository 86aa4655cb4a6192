//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/rpc"
)

// The rpc-server's methods, which rpc-bench calls.
const (
	rpcEcho    uint16 = 1 // answers the request, on the shard
	rpcOffload uint16 = 2 // answers the request from the offload pool, after -delay
)

func runRPCServer(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	var delay time.Duration
	var wait string
	fs := newFlagSet("rpc-server", "RPC server (tools/rpc): method 1 echoes the request on the shard, method 2\nechoes it from the offload pool after -delay (a blocking handler). Calls on a\nconnection are answered as each finishes, so out of order.\n\nAn idle shard waits in the Go runtime's netpoller by default (-wait runtime,\nengine.WithRuntimeWait): at a moderate call rate, when a wake-up carries a\nfew calls, it costs about 0.7x the server CPU per call of the engine's\ndefault blocking epoll_wait (-wait syscall); at saturation they are equal.\n-wait syscall is the engine's default and the more tested one. Under heavy\ncompeting load on both cores either wait has now and then fallen short of an\noffered rate (benchmarks/results/sysmon-wait-2, rpc-15c). Without -wait,\nSHARDNET_WAIT decides when set, as for the other server commands.", `  shardnet rpc-server                                  # 127.0.0.1:7300
  taskset -c 0 shardnet rpc-server -shards 1 -pin       # one pinned core, as the benchmarks run it
  shardnet rpc-server -delay 5ms                        # method 2 sleeps 5 ms per call
  shardnet rpc-server -wait syscall                     # shards block in epoll_wait (the engine's default)
`, stderr)
	sf.register(fs, "127.0.0.1:7300")
	fs.DurationVar(&delay, "delay", 0, "how long method 2 (offload) sleeps before answering")
	fs.StringVar(&wait, "wait", rpcDefaultWait, "how an idle shard waits: runtime (parks in the Go runtime's netpoller), syscall (blocks in epoll_wait, the engine's default) or runtime-pinned (runtime, thread pinned); without it SHARDNET_WAIT decides when set")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "wait" })
	waitOpts, mode, err := rpcWaitOptions(wait, explicit, os.Getenv, sf.pin)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-server: %v\n", err)
		return 2
	}
	return rpcServe(&sf, delay, waitOpts, mode, stdout, stderr)
}

// rpcServe runs the RPC server until SIGINT or SIGTERM, then stops it
// gracefully.
func rpcServe(sf *serverFlags, delay time.Duration, waitOpts []engine.Option, mode string, stdout, stderr io.Writer) int {
	if len(sf.addrs) == 0 {
		sf.addrs = addrList{sf.defaultAddr}
	}
	opts, err := sf.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-server: %v\n", err)
		return 2
	}
	opts = append(opts, waitOpts...)
	srv, err := rpc.NewServer()
	if err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-server: %v\n", err)
		return 1
	}
	srv.Handle(rpcEcho, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
	srv.HandleBlocking(rpcOffload, func(req, dst []byte) ([]byte, error) {
		if delay > 0 {
			time.Sleep(delay)
		}
		return append(dst, req...), nil
	})
	if err := srv.Serve(sf.addrs, opts...); err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-server: %v\n", err)
		return 1
	}
	var bound []string
	for _, a := range srv.Addrs() {
		bound = append(bound, a.Network()+"://"+a.String())
	}
	fmt.Fprintf(stdout, "shardnet rpc-server listening on %s shards=%d wait=%s\n", strings.Join(bound, ","), srv.Engine().Shards(), mode)
	if sf.debug != "" {
		stopDebug, err := serveDebug(sf.debug, srv.Engine())
		if err != nil {
			fmt.Fprintf(stderr, "shardnet rpc-server: -debug: %v\n", err)
			srv.Stop(context.Background())
			return 1
		}
		defer stopDebug()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	s := <-sig
	fmt.Fprintf(stdout, "shardnet rpc-server: %v, stopping\n", s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Stop(ctx)
	st := srv.Stats()
	fmt.Fprintf(stdout, "rpc: calls=%d errors=%d refused=%d bad-frames=%d\n", st.Calls, st.Errors, st.Refused, st.BadFrames)
	printStats(stdout, srv.Engine().Stats())
	if err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-server: stop: %v\n", err)
		return 1
	}
	return 0
}
