//go:build race

package relay

// raceEnabled reports a -race build, whose sync.Pool drops items on
// purpose: allocation counts mean nothing there.
const raceEnabled = true
