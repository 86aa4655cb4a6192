// Package procstat starts the processes of a standalone measurement
// command (pinned with taskset, their output kept) and reads what the
// kernel counts of them: CPU time (/proc/PID/stat and the threads'
// schedstat), RSS, open fds, and each CPU's busy time (/proc/stat and the
// cpuidle residencies). The driver (cmd/bench) reads the kernel's counts
// through it too, so the commands under cmd/ that are not suites of the
// driver measure exactly as the driver does.
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// and of the fields of /proc/stat (100 on every Linux this targets).
const clockTicks = 100

// Pin says where a process runs: CPU -1 is anywhere; GOMAXPROCS 0 leaves
// the variable unset.
type Pin struct {
	CPU        int
	GOMAXPROCS int
}

// Proc is a started process whose output lines are kept (for the raw
// record) and offered on a channel (for readiness lines).
type Proc struct {
	Name  string
	cmd   *exec.Cmd
	lines chan string // stdout and stderr lines, merged, while someone listens
	mu    sync.Mutex
	out   bytes.Buffer // everything printed, for the raw record
	sout  bytes.Buffer // stdout alone: a client's JSON, which stderr lines may interleave in out
	done  chan struct{}
	err   error
}

// Start runs argv pinned as pin asks (through taskset), with extraEnv
// added to the environment, capturing stdout and stderr. Stdout is also
// kept on its own (StdoutText), so a client's machine-readable output is
// never interleaved with its warnings; the merged record keeps each
// stream's lines in order, not their order relative to each other.
func Start(name string, pin Pin, argv []string, extraEnv ...string) (*Proc, error) {
	if pin.CPU >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(pin.CPU)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if pin.GOMAXPROCS > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(pin.GOMAXPROCS))
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	fmt.Fprintf(&p.out, "$ %s\n", strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var wg sync.WaitGroup
	for i, r := range []*bufio.Scanner{bufio.NewScanner(stdout), bufio.NewScanner(stderr)} {
		wg.Add(1)
		go func(sc *bufio.Scanner, isStdout bool) {
			defer wg.Done()
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				p.mu.Lock()
				p.out.WriteString(line)
				p.out.WriteByte('\n')
				if isStdout {
					p.sout.WriteString(line)
					p.sout.WriteByte('\n')
				}
				p.mu.Unlock()
				select {
				case p.lines <- line:
				default: // nobody is listening for lines any more
				}
			}
		}(r, i == 0)
	}
	go func() {
		// Wait closes the pipes: read them to the end first.
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process's id (taskset execs the program in place).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns what the process has printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// StdoutText returns what the process has printed on stdout so far.
func (p *Proc) StdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sout.String()
}

// Exited is closed when the process has ended; Err then says how.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Err is the process's exit error, valid once Exited is closed.
func (p *Proc) Err() error { return p.err }

// Wait waits for the process to end by itself, at most d; past d it is
// killed and Wait says so.
func (p *Proc) Wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s: still running after %v, killed", p.Name, d)
	}
}

// Ask sends the process sig and returns the first line starting with
// prefix that it prints after, within d. Lines printed before are dropped,
// so the answer is this request's.
func (p *Proc) Ask(sig os.Signal, prefix string, d time.Duration) (string, error) {
	for drained := false; !drained; {
		select {
		case <-p.lines:
		default:
			drained = true
		}
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return "", fmt.Errorf("%s: %w", p.Name, err)
	}
	return p.WaitLine(prefix, d)
}

// WaitLine waits for a line starting with prefix and returns it, or fails
// when the process ends or d passes first.
func (p *Proc) WaitLine(prefix string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.done:
			for {
				select {
				case l := <-p.lines:
					if strings.HasPrefix(l, prefix) {
						return l, nil
					}
				default:
					return "", fmt.Errorf("%s exited (%v) before printing %q: %s", p.Name, p.err, prefix, lastLines(p.Output(), 5))
				}
			}
		case <-t.C:
			return "", fmt.Errorf("%s: no %q within %v", p.Name, prefix, d)
		}
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after two seconds.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// CPUTime is a process's CPU time, all threads, read two ways: the sum of
// its threads' run time from /proc/PID/task/*/schedstat, in ns (-1 if
// unread), and utime+stime from /proc/PID/stat, in clock ticks (10 ms
// steps).
type CPUTime struct {
	NS    int64
	Ticks int64
}

// ReadCPUTime reads pid's CPU time.
func ReadCPUTime(pid int) CPUTime {
	t := CPUTime{NS: -1}
	t.Ticks, _ = cpuTicks(pid)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return t
	}
	var sum int64
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue // the thread is gone
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return t
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return t
		}
		sum += v
	}
	t.NS = sum
	return t
}

// CPUSeconds is the CPU time between a and b: the threads' run time, or
// the clock ticks when schedstat is missing or a thread that ended took
// its run time with it (the ticks then exceed it).
func CPUSeconds(a, b CPUTime) float64 {
	ticks := float64(b.Ticks-a.Ticks) / clockTicks
	if a.NS < 0 || b.NS < 0 {
		return ticks
	}
	ns := float64(b.NS-a.NS) / 1e9
	if ns < ticks-0.03 {
		return ticks
	}
	return ns
}

// cpuTicks returns utime+stime of pid, all threads, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3; utime is field 14, stime 15
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return u + s, nil
}

// RSSKiB returns VmRSS from /proc/PID/status.
func RSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			if f := strings.Fields(l); len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// FDCount returns how many fds pid holds, or -1.
func FDCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// CoreIdle returns, per CPU, the seconds it has been idle: the residency
// of its cpuidle states (µs) where the kernel has them, else idle +
// iowait + steal from /proc/stat (10 ms steps). A CPU's busy time over a
// window is the elapsed time minus its idle time: with tick-sampled
// accounting and NO_HZ, the sampled user/system fields miss the short
// bursts of a server at a moderate rate (measured: 0.39 s sampled against
// the server process's own 0.44 s at 20k msgs/s), while a NO_HZ CPU's idle
// time is measured exactly.
func CoreIdle() ([]float64, error) {
	idle, _, err := CoreTimes()
	return idle, err
}

// CoreTimes returns CoreIdle's idle seconds per CPU and, beside them, the
// irq and softirq ticks /proc/stat counts for each CPU (sampled, so they
// undercount short interrupts as the busy fields do).
func CoreTimes() (idle []float64, irqTicks []int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var v [9]int64
		for _, i := range []int{4, 5, 6, 7, 8} { // idle iowait irq softirq steal
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				return nil, nil, fmt.Errorf("/proc/stat: %s: %v", f[0], err)
			}
		}
		for len(idle) <= cpu {
			idle, irqTicks = append(idle, 0), append(irqTicks, 0)
		}
		idle[cpu] = float64(v[4]+v[5]+v[8]) / clockTicks
		irqTicks[cpu] = v[6] + v[7]
	}
	if len(idle) == 0 {
		return nil, nil, fmt.Errorf("/proc/stat: no cpuN lines")
	}
	for cpu := range idle {
		if us, ok := CPUIdleResidency(cpu); ok {
			idle[cpu] = float64(us) / 1e6
		}
	}
	return idle, irqTicks, nil
}

// CPUIdleResidency sums the time CPU cpu spent in its cpuidle states, in
// µs; false if the kernel has none for it.
func CPUIdleResidency(cpu int) (int64, bool) {
	files, _ := filepath.Glob(fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpuidle/state*/time", cpu))
	if len(files) == 0 {
		return 0, false
	}
	var sum int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}

// WaitListen waits until a local TCP port is in the LISTEN state, read
// from /proc/net/tcp without connecting (a probe connection would reach
// the server, or a proxy's backend, as a client of its own).
func WaitListen(port int, d time.Duration) error {
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/net/tcp")
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			// f[1] is the local address, f[3] the state (0A: LISTEN).
			if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on port %d after %v", port, d)
}
