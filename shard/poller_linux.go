package shard

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller is the Linux mechanism under a Loop: one epoll instance and one
// eventfd registered in it for wake-ups.
type poller struct {
	epfd   int
	evfd   int
	events []unix.EpollEvent
	one    [8]byte // the eventfd increment, written by wake under tasks.mu

	// rt is set with WithRuntimeWait (runtimewait_linux.go); its file
	// then owns epfd, and close goes through it.
	rt *runtimeWait
}

func newPoller(events int, runtimeWait bool) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &poller{epfd: epfd, evfd: evfd, events: make([]unix.EpollEvent, events)}
	// The eventfd takes a native-endian uint64.
	*(*uint64)(unsafe.Pointer(&p.one)) = 1
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	if runtimeWait {
		if err := p.initRuntimeWait(); err != nil {
			unix.Close(evfd)
			return nil, err // initRuntimeWait has closed epfd
		}
	}
	return p, nil
}

// wait blocks in epoll_wait for up to msec milliseconds (-1: no limit) and
// returns the number of events. A zero timeout never blocks, so it uses a
// raw syscall and skips the scheduler's enter/exit; a blocking wait stays a
// normal syscall so other goroutines can use the P while the loop sleeps.
// EINTR is not an error: it returns 0.
func (p *poller) wait(msec int) (int, error) {
	var n uintptr
	var errno unix.Errno
	ptr := uintptr(unsafe.Pointer(&p.events[0]))
	if msec == 0 {
		n, _, errno = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd), ptr, uintptr(len(p.events)), 0, 0, 0)
	} else {
		n, _, errno = unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd), ptr, uintptr(len(p.events)), uintptr(msec), 0, 0)
	}
	if errno != 0 {
		if errno == unix.EINTR {
			return 0, nil
		}
		return 0, os.NewSyscallError("epoll_wait", errno)
	}
	return int(n), nil
}

// wake adds one to the eventfd. The fd is non-blocking and the counter
// cannot realistically overflow, so the write never blocks.
func (p *poller) wake() {
	unix.RawSyscall(unix.SYS_WRITE, uintptr(p.evfd), uintptr(unsafe.Pointer(&p.one)), 8)
}

// drainWake resets the eventfd counter after a wake-up was seen.
func (p *poller) drainWake() {
	var buf [8]byte
	unix.RawSyscall(unix.SYS_READ, uintptr(p.evfd), uintptr(unsafe.Pointer(&buf)), 8)
}

func (p *poller) ctl(op, fd int, ev Events, gen uint32) error {
	e := unix.EpollEvent{Events: uint32(ev), Fd: int32(fd), Pad: int32(gen)}
	if err := unix.EpollCtl(p.epfd, op, fd, &e); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *poller) add(fd int, ev Events, gen uint32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, ev, gen)
}

func (p *poller) mod(fd int, ev Events, gen uint32) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, ev, gen)
}

// del removes fd. An fd the caller already closed has left the epoll set by
// itself (EBADF, ENOENT), which is not an error here.
func (p *poller) del(fd int) error {
	err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	if err != nil && err != unix.EBADF && err != unix.ENOENT {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// event returns the i-th ready event of the last wait: the fd, its
// generation tag and what is ready.
func (p *poller) event(i int) (fd int, gen uint32, ev Events) {
	e := &p.events[i]
	return int(e.Fd), uint32(e.Pad), Events(e.Events)
}

func (p *poller) isWake(fd int) bool { return fd == p.evfd }

func (p *poller) close() error {
	err1 := unix.Close(p.evfd)
	var err2 error
	if p.rt != nil {
		// The file owns epfd: closing it also takes epfd out of the
		// runtime's poller (and stops its deadline timer) first.
		if err := p.rt.file.Close(); err != nil {
			err2 = err
		}
	} else if err := unix.Close(p.epfd); err != nil {
		err2 = os.NewSyscallError("close", err)
	}
	if err1 != nil {
		return os.NewSyscallError("close", err1)
	}
	return err2
}

// pinThread pins the calling OS thread to the index-th CPU (modulo the
// count) of the process's allowed set.
func pinThread(index int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return os.NewSyscallError("sched_getaffinity", err)
	}
	n := set.Count()
	if n == 0 {
		return nil
	}
	want := index % n
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if !set.IsSet(cpu) {
			continue
		}
		if want == 0 {
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				return os.NewSyscallError("sched_setaffinity", err)
			}
			return nil
		}
		want--
	}
	return nil
}

// currentCPU reports the CPU the calling thread runs on.
func currentCPU() int {
	var cpu uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if errno != 0 {
		return -1
	}
	return int(cpu)
}

func gettid() int { return unix.Gettid() }
