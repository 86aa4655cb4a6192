//go:build !linux

package relay

import "github.com/shardnet/shardnet/engine"

// tuneSocket does nothing off Linux, where the engine does not run.
func tuneSocket(*engine.Conn, bool) {}
