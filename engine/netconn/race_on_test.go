//go:build race

package netconn

// raceEnabled reports a -race build, whose detector allows at most 8128
// live goroutines: the stress test stays under that.
const raceEnabled = true
