package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTicks = 100

// procSample is one reading of a server process's counters and of its
// core's idle time.
type procSample struct {
	runNs     uint64 // run time of all its threads (schedstat), ns
	sysmonNs  uint64 // run time of the runtime's sysmon thread, ns
	slices    uint64 // times its threads were scheduled in (schedstat), all threads
	ticks     uint64 // utime+stime, clock ticks, exited threads included
	syscr     uint64 // read-type system calls (read, readv, ...): /proc/PID/io
	syscw     uint64 // write-type system calls (write, writev, ...)
	core0Idle float64
}

// readProc samples pid and CPU 0.
func readProc(pid int) procSample {
	var s procSample
	tids := threads(pid)
	// A Go program's first thread after the main one is sysmon: runtime.main
	// starts it before anything else (checked with perf: all the samples
	// of runtime.sysmon are that thread's).
	sysmon := -1
	for _, t := range tids {
		if t != pid {
			sysmon = t
			break
		}
	}
	for _, t := range tids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, t))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		ns, _ := strconv.ParseUint(f[0], 10, 64)
		sl, _ := strconv.ParseUint(f[2], 10, 64)
		s.runNs += ns
		s.slices += sl
		if t == sysmon {
			s.sysmonNs = ns
		}
	}
	s.ticks = uint64(procstat.ReadCPUTime(pid).Ticks)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			switch k {
			case "syscr":
				s.syscr = n
			case "syscw":
				s.syscw = n
			}
		}
	}
	s.core0Idle = core0Idle()
	return s
}

// threads lists pid's thread IDs in ascending order.
func threads(pid int) []int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		fatal(err)
	}
	var tids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, n)
		}
	}
	slices.Sort(tids)
	return tids
}

// core0Idle is CPU 0's idle seconds (procstat.CoreIdle: exact where the
// kernel keeps cpuidle residencies).
func core0Idle() float64 {
	idle, err := procstat.CoreIdle()
	if err != nil || len(idle) == 0 {
		fatal(fmt.Errorf("CPU idle time: %v", err))
	}
	return idle[0]
}
