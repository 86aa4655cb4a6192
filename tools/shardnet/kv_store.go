//go:build linux

package main

import (
	"hash/maphash"
	"slices"
	"sync"
)

// kvStripes is the number of lock stripes of a kvStore: a power of two,
// well above any shard count, so two shards rarely want the same lock.
const kvStripes = 256

// kvStore is the kv command's keyspace: one map split into kvStripes
// stripes, each behind its own mutex, and shared by every shard.
//
// Why locks and not keys routed to owning shards: a connection lives on one
// shard, but its keys hash anywhere. Routing would turn every command on a
// foreign key into a task queued to another shard plus an AsyncWrite back,
// with replies reordered to keep pipelined answers in order, and a
// multi-key command (MSET, MGET, DEL) would need a protocol across shards to
// be atomic. A stripe lock is held only for a map operation (no I/O, no
// allocation beyond the stored copy), so it never blocks a shard for long,
// and atomicity across keys is simple: lock every stripe a command needs,
// in ascending stripe order (the one global order that rules out
// deadlock), do the work, unlock.
//
// Expiry is lazy, as in Redis: a key found past its deadline is deleted on
// access. Keys with a deadline are also listed in their stripe's volatile
// map, which sweep samples periodically, so expired keys nobody reads again
// are freed and memory stays bounded.
type kvStore struct {
	seed    maphash.Seed
	now     func() int64 // Unix milliseconds; nowMilli but in tests
	stripes [kvStripes]kvStripe
}

// kvStripe is one lock stripe.
type kvStripe struct {
	mu sync.Mutex
	// m holds the stripe's keys; guarded by mu.
	m map[string]*kvEntry
	// volatile holds the keys of m that have a deadline; guarded by mu.
	volatile map[string]*kvEntry
	_        [40]byte // keep neighbouring stripes' locks off one cache line
}

// kvEntry is a stored value. Its fields are guarded by its stripe's mu.
type kvEntry struct {
	val []byte
	exp int64 // deadline in Unix milliseconds; 0: none. Alive until now passes it, as in Redis.
}

// newKVStore returns an empty keyspace.
func newKVStore() *kvStore {
	s := &kvStore{seed: maphash.MakeSeed(), now: nowMilli}
	for i := range s.stripes {
		s.stripes[i].m = make(map[string]*kvEntry)
		s.stripes[i].volatile = make(map[string]*kvEntry)
	}
	return s
}

// stripeOf returns the index of key's stripe.
func (s *kvStore) stripeOf(key []byte) int {
	return int(maphash.Bytes(s.seed, key) & (kvStripes - 1))
}

// lockKeys locks the stripes of keys (every stride-th element of keys, from
// the first) in ascending order and returns their indices, in scratch's
// memory, for unlockAll.
func (s *kvStore) lockKeys(keys [][]byte, stride int, scratch []int) []int {
	idx := scratch[:0]
	for i := 0; i < len(keys); i += stride {
		idx = append(idx, s.stripeOf(keys[i]))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.stripes[i].mu.Lock()
	}
	return idx
}

// lockAll locks every stripe in ascending order and returns their indices
// for unlockAll.
func (s *kvStore) lockAll(scratch []int) []int {
	idx := scratch[:0]
	for i := range s.stripes {
		s.stripes[i].mu.Lock()
		idx = append(idx, i)
	}
	return idx
}

// unlockAll unlocks the stripes lockKeys or lockAll locked.
func (s *kvStore) unlockAll(idx []int) {
	for i := len(idx) - 1; i >= 0; i-- {
		s.stripes[idx[i]].mu.Unlock()
	}
}

// kvClock reads the wall clock at most once per command, and only when a
// key with a deadline is touched: most keys have none.
type kvClock struct {
	t    int64
	read func() int64 // the clock: the store's now
}

// now returns the command's time in Unix milliseconds.
func (c *kvClock) now() int64 {
	if c.t == 0 {
		c.t = c.read()
	}
	return c.t
}

// get returns key's live entry, deleting it if it has expired. The
// caller holds the stripe's lock.
func (st *kvStripe) get(key []byte, clk *kvClock) *kvEntry {
	e := st.m[string(key)]
	if e == nil || e.exp == 0 || e.exp >= clk.now() {
		return e
	}
	delete(st.m, string(key))
	delete(st.volatile, string(key))
	return nil
}

// set stores val under key with deadline exp (0: none), reusing the old
// value's memory when it fits. keepTTL keeps an existing deadline instead.
// The caller holds the stripe's lock.
func (st *kvStripe) set(key, val []byte, exp int64, keepTTL bool, clk *kvClock) {
	e := st.get(key, clk)
	if e == nil {
		e = &kvEntry{}
		k := string(key)
		st.m[k] = e
		if exp != 0 {
			st.volatile[k] = e
		}
	} else if !keepTTL {
		st.setExp(key, e, exp)
	}
	if keepTTL && e.exp != 0 {
		exp = e.exp
	}
	if cap(e.val) >= len(val) && cap(e.val) <= 2*len(val)+64 {
		e.val = append(e.val[:0], val...)
	} else {
		e.val = append([]byte(nil), val...)
	}
	e.exp = exp
}

// setExp changes e's deadline and keeps the volatile map in step. The
// caller holds the stripe's lock.
func (st *kvStripe) setExp(key []byte, e *kvEntry, exp int64) {
	switch {
	case exp != 0 && e.exp == 0:
		st.volatile[string(key)] = e
	case exp == 0 && e.exp != 0:
		delete(st.volatile, string(key))
	}
	e.exp = exp
}

// del deletes key and reports whether it was there (and alive). The caller
// holds the stripe's lock.
func (st *kvStripe) del(key []byte, clk *kvClock) bool {
	if st.get(key, clk) == nil {
		return false
	}
	delete(st.m, string(key))
	delete(st.volatile, string(key))
	return true
}

// kvSweepSample is how many keys with a deadline sweep looks at in one
// round, and kvSweepRounds how many rounds it may run per stripe: a
// stripe is sampled again while over a quarter of its sample had expired,
// as Redis's active expiry does, so work follows the garbage but stays
// bounded per tick.
const (
	kvSweepSample = 20
	kvSweepRounds = 8
)

// sweep deletes expired keys from the stripes shard owns for sweeping
// (stripe i belongs to shard i mod shards), sampling each one's volatile
// keys. It locks one stripe at a time, briefly.
func (s *kvStore) sweep(shard, shards int) {
	for i := shard; i < kvStripes; i += shards {
		st := &s.stripes[i]
		for range kvSweepRounds {
			st.mu.Lock()
			now, seen, expired := s.now(), 0, 0
			// Map iteration starts at a random place, so successive
			// rounds sample different keys.
			for k, e := range st.volatile {
				if seen == kvSweepSample {
					break
				}
				seen++
				if e.exp < now {
					delete(st.m, k)
					delete(st.volatile, k)
					expired++
				}
			}
			st.mu.Unlock()
			if expired*4 <= seen || seen < kvSweepSample {
				break
			}
		}
	}
}
