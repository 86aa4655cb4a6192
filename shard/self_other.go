//go:build !(linux && (amd64 || arm64))

package shard

// curG has no cheap source here: the loop's identity (self) is its OS
// thread's ID instead, which must be read again after every park off the
// thread.
func curG() uintptr { return 0 }

const haveCurG = false
