//go:build !linux

package shard

// PollFd returns -1 off Linux, where New fails before a loop exists; see
// pending_linux.go.
func (l *Loop) PollFd() int { return -1 }
