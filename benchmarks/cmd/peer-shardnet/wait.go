package main

import (
	"os"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/waitenv"
)

// waitOptions returns the shards' idle wait that SHARDNET_WAIT asks for, so
// that the driver can measure this one binary both ways (an -extra-peer
// whose wrapper sets it).
func waitOptions() ([]engine.Option, error) { return waitenv.Options(os.Getenv) }
