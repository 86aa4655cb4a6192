package main

import (
	"os"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/waitenv"
)

// waitOptions returns the shards' idle wait that SHARDNET_WAIT asks for
// (server commands and udp-echo), so that the benchmark drivers can
// measure this one binary both ways.
func waitOptions() ([]engine.Option, error) { return waitenv.Options(os.Getenv) }
