//go:build linux

package main

import (
	"fmt"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/waitenv"
)

// rpcDefaultWait is rpc-server's idle wait when neither -wait nor
// SHARDNET_WAIT names one. The runtime wait parks an idle shard in the Go
// runtime's netpoller; with one call or a few per wake-up, which is how an
// RPC server at a moderate rate runs, it spent 0.65–0.74× the blocking
// wait's server CPU per call in benchmarks/results (sysmon-wait, rpc-15b,
// rpc-15c), with the same calls/s at saturation. The engine's own default
// stays the blocking epoll_wait (see engine.WithRuntimeWait).
const rpcDefaultWait = "runtime"

// rpcWaitOptions returns the engine options for rpc-server's idle wait and
// the mode's name. An explicit -wait wins; else SHARDNET_WAIT, as for every
// server command (the benchmark drivers measure one binary both ways
// through it); else rpcDefaultWait. The options go after the server flags'
// own (which already hold SHARDNET_WAIT's), so they override them.
func rpcWaitOptions(flagMode string, explicit bool, getenv func(string) string, pin bool) ([]engine.Option, string, error) {
	mode := flagMode
	if !explicit {
		if env := getenv(waitenv.Var); env != "" {
			mode = env
		}
	}
	opts, err := waitenv.Options(func(string) string { return mode })
	if err != nil {
		if explicit {
			return nil, "", fmt.Errorf("-wait %q: want syscall, runtime or runtime-pinned", mode)
		}
		return nil, "", err
	}
	if mode == "" || mode == "syscall" {
		mode = "syscall"
		opts = []engine.Option{engine.WithRuntimeWait(false)}
	}
	// -pin first, so that an explicit -wait also undoes the pinning that
	// SHARDNET_WAIT=runtime-pinned put in the server flags' options.
	return append([]engine.Option{engine.WithPinning(pin)}, opts...), mode, nil
}
