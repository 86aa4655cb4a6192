package threadcheck

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// InEpollWait returns how many of this process's threads are blocked in
// epoll_pwait on epfd, or on any epoll fd when epfd is negative. It reads
// each thread's /proc/self/task/N/syscall: the system call's number, then
// its arguments in hex (the first is the epoll fd). A thread that exits
// while it is read is not counted.
func InEpollWait(t testing.TB, epfd int) int {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread has exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 || f[0] != strconv.Itoa(unix.SYS_EPOLL_PWAIT) {
			continue
		}
		if epfd < 0 {
			n++
			continue
		}
		if arg, err := strconv.ParseInt(strings.TrimPrefix(f[1], "0x"), 16, 64); err == nil && int(arg) == epfd {
			n++
		}
	}
	return n
}
