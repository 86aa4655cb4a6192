package threadcheck

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInEpollWait blocks a locked thread in epoll_wait on a fresh epoll fd
// and finds it there, by that fd and among all, then not once it returns.
func TestInEpollWait(t *testing.T) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		t.Fatal(err)
	}
	if n := InEpollWait(t, epfd); n != 0 {
		t.Fatalf("before the wait: %d threads on the epoll fd, want 0", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ev := make([]unix.EpollEvent, 1)
		for {
			if _, err := unix.EpollWait(epfd, ev, 10_000); err != unix.EINTR {
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for InEpollWait(t, epfd) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the waiting thread never showed in epoll_wait on its fd")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := InEpollWait(t, -1); n < 1 {
		t.Fatalf("any epoll fd: %d threads, want at least the one waiting", n)
	}
	if _, err := unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	<-done
	if n := InEpollWait(t, epfd); n != 0 {
		t.Fatalf("after the wait: %d threads on the epoll fd, want 0", n)
	}
}
