//go:build race

package main

// raceEnabled builds the server under test with -race too, so the race
// detector watches the real process.
const raceEnabled = true
