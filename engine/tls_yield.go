package engine

// A handshake goroutine that a shard starts, or wakes with the peer's
// bytes, is work handed to a goroutine like any other: without a spare P
// it waits for sysmon to take the sleeping shard's P, twice per
// handshake. The shard's yield (yield.go) lets it run at once; the shard's
// thread gets the P back as soon as the goroutine parks (waiting for the
// peer, or for a CPU slot) or ends.

// yieldToHandshakes yields the shard's P, once per round, to the
// handshake goroutines it made runnable (yieldToWoken). Loop only.
func (s *shardCtx) yieldToHandshakes() { s.yieldToWoken() }
