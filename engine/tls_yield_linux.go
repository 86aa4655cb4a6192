package engine

import "golang.org/x/sys/unix"

// pendingShards appends to ready the indexes of the shards whose epoll fd
// polls readable, that is, which have input waiting (or a task's wake-up)
// that they have not taken, and returns it; up to cap(ready) of them. One
// poll(2) per maxPollShards shards, with no timeout. Any goroutine.
func (e *Engine) pendingShards(ready []int) []int {
	var fds [maxPollShards]unix.PollFd
	for base := 0; base < len(e.shards) && len(ready) < cap(ready); base += maxPollShards {
		n := min(len(e.shards)-base, maxPollShards)
		for i := range n {
			fds[i] = unix.PollFd{Fd: int32(e.shards[base+i].loop.PollFd()), Events: unix.POLLIN}
		}
		got, err := unix.Poll(fds[:n], 0)
		if err != nil || got == 0 {
			continue // EINTR, or nothing waits: no reason to stop the handshake
		}
		for i := range n {
			if fds[i].Revents&unix.POLLIN != 0 && len(ready) < cap(ready) {
				ready = append(ready, base+i)
			}
		}
	}
	return ready
}
