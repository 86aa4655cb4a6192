//go:build linux

package main

import (
	"sync/atomic"
	"time"
)

// backendSet is the proxy's backends, chosen round-robin; any goroutine.
type backendSet struct {
	list    []*backend
	rr      atomic.Uint64 // the next round-robin start; every shard adds
	downFor time.Duration
}

// backend is one backend address and until when it is skipped.
type backend struct {
	addr      string
	downFor   time.Duration
	downUntil atomic.Int64 // unix nanoseconds; any shard writes and reads
}

func newBackendSet(addrs []string, downFor time.Duration) *backendSet {
	s := &backendSet{downFor: downFor}
	for _, a := range addrs {
		s.list = append(s.list, &backend{addr: a, downFor: downFor})
	}
	return s
}

func (s *backendSet) len() int          { return len(s.list) }
func (s *backendSet) at(i int) *backend { return s.list[i] }

// next returns the backend index a new client tries first.
func (s *backendSet) next() int { return int((s.rr.Add(1) - 1) % uint64(len(s.list))) }

// isDown reports whether the backend is being skipped.
func (b *backend) isDown() bool { return time.Now().UnixNano() < b.downUntil.Load() }

// markDown skips the backend for downFor and reports whether it was up
// until now, so the log says so once per outage, not once per client.
func (b *backend) markDown() bool {
	now := time.Now()
	return b.downUntil.Swap(now.Add(b.downFor).UnixNano()) < now.UnixNano()
}
