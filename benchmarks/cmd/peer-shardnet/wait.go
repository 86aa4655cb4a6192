package main

import (
	"fmt"
	"os"

	"github.com/shardnet/shardnet/engine"
)

// waitEnv names the switch for the shards' idle wait, so that the driver
// can measure this one binary both ways (an -extra-peer whose wrapper sets
// it): "runtime" is engine.WithRuntimeWait, "runtime-pinned" the same with
// the shards' threads pinned (so a parked shard stays locked to its
// thread); unset or "syscall" is the default, a blocking epoll_wait.
const waitEnv = "SHARDNET_WAIT"

func waitOptions() ([]engine.Option, error) {
	switch v := os.Getenv(waitEnv); v {
	case "", "syscall":
		return nil, nil
	case "runtime":
		return []engine.Option{engine.WithRuntimeWait(true)}, nil
	case "runtime-pinned":
		return []engine.Option{engine.WithRuntimeWait(true), engine.WithPinning(true)}, nil
	default:
		return nil, fmt.Errorf("%s=%q: want syscall, runtime or runtime-pinned", waitEnv, v)
	}
}
