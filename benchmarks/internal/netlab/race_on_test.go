//go:build race

package netlab

// raceEnabled: the test builds shardnet with the race detector too, so the
// servers are checked while killed, stopped and handed over.
const raceEnabled = true
