//go:build race

package buffer

// raceEnabled reports a -race build. Under the race detector sync.Pool drops
// a quarter of the items it is given on purpose, so pool round trips
// allocate and the zero-allocation assertions that involve the pool cannot
// hold there.
const raceEnabled = true
