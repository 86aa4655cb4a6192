package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
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

// proc is a started child process: procstat's, with the driver's
// lower-case names and its taskset check.
type proc struct{ *procstat.Proc }

// start runs argv with the pinning, capturing its output; without taskset
// (or with one CPU) nothing is pinned.
func start(name string, pin pinning, argv []string, extraEnv ...string) (*proc, error) {
	cpu := pin.cpu
	if !haveTaskset {
		cpu = -1
	}
	p, err := procstat.Start(name, procstat.Pin{CPU: cpu, GOMAXPROCS: pin.gomaxprocs}, argv, extraEnv...)
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

func (p *proc) pid() int                                                { return p.PID() }
func (p *proc) output() string                                          { return p.Output() }
func (p *proc) stdoutText() string                                      { return p.StdoutText() }
func (p *proc) waitLine(prefix string, d time.Duration) (string, error) { return p.WaitLine(prefix, d) }
func (p *proc) wait(d time.Duration) error                              { return p.Wait(d) }
func (p *proc) stop()                                                   { p.Stop() }

// waitPort waits until addr accepts a TCP connection.
func waitPort(addr string, d time.Duration, p *proc) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if p != nil {
			select {
			case <-p.Exited():
				return fmt.Errorf("%s exited (%v): %s", p.Name, p.Err(), lastLines(p.output(), 5))
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
	name := "server"
	if p != nil {
		name = p.Name
	}
	return fmt.Errorf("%s: nothing accepts on %s after %v", name, addr, d)
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
	seconds   float64
	serverCPU float64 // seconds of CPU
	clientCPU float64
	mallocs   int64     // -1 if the server does not report them
	coreBusy  []float64 // seconds each CPU was not idle (/proc/stat); nil if unread
	coreIRQ   []float64 // seconds of irq and softirq ticks on each CPU
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
	idles   []float64 // seconds each CPU was idle (procstat.CoreTimes)
	irqs    []int64   // irq+softirq clock ticks per CPU
}

func takeSnapshot(server, client *proc, peer bool) snapshot {
	s := snapshot{at: time.Now(), mallocs: -1}
	s.idles, s.irqs, _ = procstat.CoreTimes()
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
	l, err := p.Ask(syscall.SIGUSR1, "mallocs ", time.Second)
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
