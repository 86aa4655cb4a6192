//go:build race

package engine

// raceEnabled reports a -race build. Under the race detector sync.Pool drops
// a quarter of the items it is given on purpose, so the buffer pool's round
// trips allocate and a strict zero-allocation assertion cannot hold there.
const raceEnabled = true
