package shard

// PollFd returns the loop's epoll fd, for a goroutine that wants to know,
// without taking the loop's place, whether the loop has work waiting: it
// polls readable (poll(2), POLLIN) while an fd the loop watches for
// reading has input unread (level-triggered) or a task's wake-up is
// pending. It must only be polled, not read, changed or closed, and only
// until Close (which closes it; its number may then be reused). Any
// goroutine.
func (l *Loop) PollFd() int { return l.poller.epfd }
