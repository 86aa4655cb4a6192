package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux the driver targets; the method section says so).
const clockTicks = 100

// pinning says where a process runs: on one CPU through taskset, or free.
type pinning struct {
	cpu        int // -1: not pinned
	gomaxprocs int // 0: leave GOMAXPROCS unset
}

// proc is a started child process whose output lines are kept (for the
// raw record) and also offered on a channel (for readiness and markers).
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string // stdout and stderr lines, merged, while someone listens
	mu    sync.Mutex
	out   bytes.Buffer // everything printed, for the raw record
	sout  bytes.Buffer // stdout alone: a client's JSON, which stderr lines may interleave in out
	done  chan struct{}
	err   error
}

// start runs argv with the pinning, capturing its output.
func start(name string, pin pinning, argv []string, extraEnv ...string) (*proc, error) {
	if pin.cpu >= 0 && haveTaskset {
		argv = append([]string{"taskset", "-c", strconv.Itoa(pin.cpu)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if pin.gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(pin.gomaxprocs))
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
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
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
				default: // nobody is listening for markers any more
				}
			}
		}(r, i == 0)
	}
	go func() {
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// output returns what the process has printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stdoutText returns what the process has printed on stdout so far.
func (p *proc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sout.String()
}

// waitLine waits for a line with the prefix, or the process's end, or d.
func (p *proc) waitLine(prefix string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.done:
			// Lines may still be queued.
			for {
				select {
				case l := <-p.lines:
					if strings.HasPrefix(l, prefix) {
						return l, nil
					}
				default:
					return "", fmt.Errorf("%s exited (%v) before printing %q", p.name, p.err, prefix)
				}
			}
		case <-t.C:
			return "", fmt.Errorf("%s: no %q within %v", p.name, prefix, d)
		}
	}
}

// wait waits for the process to end by itself, at most d.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s: still running after %v, killed", p.name, d)
	}
}

// stop ends the process: SIGTERM, then SIGKILL after two seconds.
func (p *proc) stop() {
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

// waitPort waits until addr accepts a TCP connection.
func waitPort(addr string, d time.Duration, p *proc) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited (%v): %s", p.name, p.err, lastLines(p.output(), 5))
			default:
			}
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing accepts on %s after %v", p.name, addr, d)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// window is what was sampled of a server and its client between two moments.
type window struct {
	seconds    float64
	serverCPU  float64 // seconds of CPU
	clientCPU  float64
	mallocs    int64     // -1 if the server does not report them
	coreBusy   []float64 // seconds each CPU was not idle (/proc/stat); nil if unread
	coreIRQ    []float64 // seconds of irq and softirq ticks on each CPU
	serverPeer bool
}

// describe is the window's line in a raw record.
func (w window) describe() string {
	l := fmt.Sprintf("# window %.3fs server %.2fs cpu client %.2fs cpu mallocs %d", w.seconds, w.serverCPU, w.clientCPU, w.mallocs)
	for i, b := range w.coreBusy {
		l += fmt.Sprintf(" cpu%d busy %.2fs (irq+softirq %.2fs)", i, b, w.coreIRQ[i])
	}
	return l
}

// core returns how long CPU i was busy in the window, in seconds, or -1.
func (w window) core(i int) float64 {
	if i < 0 || i >= len(w.coreBusy) {
		return -1
	}
	return w.coreBusy[i]
}

// irq returns how long CPU i spent in irq and softirq in the window, in
// seconds, or -1.
func (w window) irq(i int) float64 {
	if i < 0 || i >= len(w.coreIRQ) {
		return -1
	}
	return w.coreIRQ[i]
}

// snapshot is one sample of the processes' counters.
type snapshot struct {
	at      time.Time
	server  procstat.CPUTime
	client  procstat.CPUTime
	mallocs int64
	idles   []float64 // seconds each CPU was idle (see cpuIdle)
	irqs    []int64   // irq+softirq clock ticks per CPU
}

// cpuIdle returns, per CPU, the seconds it has been idle, and its
// irq + softirq time in clock ticks from /proc/stat. Idle is the
// residency of the cpuidle states (/sys/devices/system/cpu/cpuN/cpuidle,
// µs) where the kernel has them, else idle + iowait + steal from
// /proc/stat (in 10 ms steps).
//
// A CPU's busy time is the elapsed time minus the first: this kernel
// accounts user, system, irq and softirq by sampling at the tick
// (CONFIG_TICK_CPU_ACCOUNTING), and with the tick stopped while idle
// (NO_HZ) the short bursts of a server at a moderate rate mostly fall
// between ticks: the sampled fields added up came to less than the server
// process's own run time (measured 0.39 s against 0.44 s at 20k msgs/s),
// while the idle time of a NO_HZ CPU is measured exactly. The irq+softirq
// figure is sampled, so it undercounts in the same way.
func cpuIdle() (idle []float64, irq []int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		field := func(i int) int64 {
			v, perr := strconv.ParseInt(f[i], 10, 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("/proc/stat: %s: %v", f[0], perr)
			}
			return v
		}
		for len(idle) <= cpu {
			idle, irq = append(idle, 0), append(irq, 0)
		}
		idle[cpu] = float64(field(4)+field(5)+field(8)) / clockTicks // idle iowait steal
		irq[cpu] = field(6) + field(7)                               // irq softirq
		if err != nil {
			return nil, nil, err
		}
	}
	if len(idle) == 0 {
		return nil, nil, fmt.Errorf("/proc/stat: no cpuN lines")
	}
	for cpu := range idle {
		if us, ok := procstat.CPUIdleResidency(cpu); ok {
			idle[cpu] = float64(us) / 1e6
		}
	}
	return idle, irq, nil
}

func takeSnapshot(server, client *proc, peer bool) snapshot {
	s := snapshot{at: time.Now(), mallocs: -1}
	s.idles, s.irqs, _ = cpuIdle()
	s.server = procstat.ReadCPUTime(server.pid())
	if client != nil {
		s.client = procstat.ReadCPUTime(client.pid())
	}
	if peer {
		s.mallocs = askMallocs(server)
	}
	return s
}

// askMallocs makes a peer print its malloc count (SIGUSR1) and reads it.
func askMallocs(p *proc) int64 {
	// Drop stale lines so the answer is this request's.
	for {
		select {
		case <-p.lines:
			continue
		default:
		}
		break
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return -1
	}
	l, err := p.waitLine("mallocs ", time.Second)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(l, "mallocs "), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func between(a, b snapshot) window {
	w := window{
		seconds:   b.at.Sub(a.at).Seconds(),
		serverCPU: procstat.CPUSeconds(a.server, b.server),
		clientCPU: procstat.CPUSeconds(a.client, b.client),
		mallocs:   -1,
	}
	if a.mallocs >= 0 && b.mallocs >= 0 {
		w.mallocs = b.mallocs - a.mallocs
	}
	if len(a.idles) > 0 && len(a.idles) == len(b.idles) {
		for i := range a.idles {
			busy := w.seconds - (b.idles[i] - a.idles[i])
			w.coreBusy = append(w.coreBusy, max(0, busy))
			w.coreIRQ = append(w.coreIRQ, float64(b.irqs[i]-a.irqs[i])/clockTicks)
		}
	}
	return w
}
