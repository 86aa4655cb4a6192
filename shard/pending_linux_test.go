package shard

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pollReadable reports whether fd polls readable now (poll(2), no wait).
func pollReadable(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1 && fds[0].Revents&unix.POLLIN != 0
}

// TestPollFdReadableWhileInputWaits checks what PollFd promises: the
// loop's epoll fd polls readable while a watched fd has input the loop
// has not taken (the loop is held in a task meanwhile), and not once the
// loop has read it.
func TestPollFdReadableWhileInputWaits(t *testing.T) {
	l := newLoop(t)
	var p [2]int
	p[0], p[1] = newPipe(t)
	read := make(chan struct{}, 1)
	watchDrain(t, l, p[0], read)
	startRun(t, l)
	if pollReadable(t, l.PollFd()) {
		t.Fatal("readable with nothing to read")
	}
	release, held := make(chan struct{}), make(chan struct{})
	if err := l.Submit(func() { close(held); <-release }); err != nil {
		t.Fatal(err)
	}
	<-held
	unix.Write(p[1], []byte("x"))
	if !pollReadable(t, l.PollFd()) {
		close(release)
		t.Fatal("not readable while the pipe's input waits")
	}
	close(release)
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop never read the pipe")
	}
	// The loop's eventfd may still hold the task's wake-up for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for pollReadable(t, l.PollFd()) {
		if time.Now().After(deadline) {
			t.Fatal("still readable after the loop took the input")
		}
		time.Sleep(time.Millisecond)
	}
}
