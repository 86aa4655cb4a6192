package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat and
// of the fields of /proc/stat.
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
	s.ticks = cpuTicks(pid)
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
	s.core0Idle = cpuIdle(0)
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

// cpuTicks returns the utime+stime of pid, in clock ticks: every thread the
// process ever had, exited ones included.
func cpuTicks(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return ut + st
}

// cpuIdle returns the seconds CPU cpu has been idle: the residency of its
// cpuidle states (µs, measured exactly with the tick stopped), else
// idle+iowait+steal from /proc/stat (10 ms steps). Its busy time over a
// window is the window less this: the kernel here samples user, system,
// irq and softirq at the tick, which misses most of a server's short
// bursts at a moderate rate.
func cpuIdle(cpu int) float64 {
	files, _ := filepath.Glob(fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpuidle/state*/time", cpu))
	if len(files) > 0 {
		var us int64
		ok := true
		for _, f := range files {
			b, err := os.ReadFile(f)
			v, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil || perr != nil {
				ok = false
				break
			}
			us += v
		}
		if ok {
			return float64(us) / 1e6
		}
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		fatal(err)
	}
	name := fmt.Sprintf("cpu%d", cpu)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 9 && f[0] == name {
			var t int64
			for _, i := range []int{4, 5, 8} { // idle iowait steal
				v, _ := strconv.ParseInt(f[i], 10, 64)
				t += v
			}
			return float64(t) / clockTicks
		}
	}
	fatal(fmt.Errorf("/proc/stat: no %s line", name))
	return 0
}
