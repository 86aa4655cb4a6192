// Package waitenv reads the SHARDNET_WAIT switch that shardnet's server
// commands and the benchmark peers share, so that the benchmark drivers can
// measure one binary with both idle waits of the shards.
package waitenv

import (
	"fmt"

	"github.com/shardnet/shardnet/engine"
)

// Var names the switch: "runtime" is engine.WithRuntimeWait, "runtime-pinned"
// the same with the shards' threads pinned (so a parked shard stays locked
// to its thread), "syscall" a blocking epoll_wait; unset leaves the engine's
// default (today the blocking epoll_wait).
const Var = "SHARDNET_WAIT"

// Options returns the engine options the switch asks for, reading it with
// getenv (os.Getenv, or a test's map), or an error naming Var for a value
// it does not know.
func Options(getenv func(string) string) ([]engine.Option, error) {
	switch v := getenv(Var); v {
	case "":
		return nil, nil
	case "syscall":
		// Said outright, so that "syscall" keeps meaning the blocking
		// wait whatever the engine's default is.
		return []engine.Option{engine.WithRuntimeWait(false)}, nil
	case "runtime":
		return []engine.Option{engine.WithRuntimeWait(true)}, nil
	case "runtime-pinned":
		return []engine.Option{engine.WithRuntimeWait(true), engine.WithPinning(true)}, nil
	default:
		return nil, fmt.Errorf("%s=%q: want syscall, runtime or runtime-pinned", Var, v)
	}
}
