//go:build linux

package main

import (
	"context"
	"expvar"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// serveDebug serves pprof and the engine's per-shard stats on a loopback
// address, through a mux and an expvar map of its own: its /debug/vars
// shows the "shardnet" stats and nothing else.
//
// Importing net/http/pprof and expvar does register handlers process-wide,
// at init: /debug/pprof/* and /debug/vars on http.DefaultServeMux, and
// expvar publishes "cmdline" and "memstats". The command never serves
// http.DefaultServeMux, so those stay unreachable unless other code in
// the process serves it.
func serveDebug(addr string, e *engine.Engine) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%q is not a loopback address: the debug endpoints expose internals", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	vars := new(expvar.Map).Init()
	vars.Set("shardnet", expvar.Func(func() any { return e.Stats() }))
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, "%s\n", vars.String())
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
