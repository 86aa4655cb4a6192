//go:build linux && (amd64 || arm64)

package shard

// curG returns the address of the calling goroutine's runtime descriptor
// (the g the Go runtime keeps in thread-local storage on amd64 and in a
// fixed register on arm64). It stays the same for the goroutine's life,
// whichever OS thread runs it, and no two live goroutines share it, so it
// tells the loop's own goroutine from every other one without a system
// call. Implemented in self_linux_amd64.s and self_linux_arm64.s.
func curG() uintptr

// haveCurG reports that curG is real here: the loop's identity (self) is
// its goroutine, which a park off the thread does not change.
const haveCurG = true
