package procstat

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProc: a started process's lines are seen, its counters read, and
// Stop ends it.
func TestProc(t *testing.T) {
	p, err := Start("sh", Pin{CPU: -1}, []string{"sh", "-c", "echo ready; exec sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if _, err := p.WaitLine("ready", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rss, err := RSSKiB(p.PID()); err != nil || rss <= 0 {
		t.Fatalf("RSS %d KiB, %v", rss, err)
	}
	if n := FDCount(p.PID()); n < 3 {
		t.Fatalf("%d fds, want stdin, stdout, stderr at least", n)
	}
	if c := ReadCPUTime(p.PID()); c.Ticks < 0 {
		t.Fatalf("cpu %+v", c)
	}
	p.Stop()
	if _, err := p.WaitLine("never", time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("after Stop: %v, want an exit", err)
	}
}

// TestCPUAndCores: this process's CPU time grows while it spins, and the
// cores were busy at least that long (the machine is shared: the spin
// runs until it has had 0.1 s of CPU, however long that takes).
func TestCPUAndCores(t *testing.T) {
	idle0, err := CoreIdle()
	if err != nil {
		t.Fatal(err)
	}
	a := ReadCPUTime(os.Getpid())
	start := time.Now()
	b := a
	for CPUSeconds(a, b) < 0.1 && time.Since(start) < 20*time.Second {
		for x := 0; x < 1e6; x++ {
		}
		b = ReadCPUTime(os.Getpid())
	}
	idle1, err := CoreIdle()
	if err != nil {
		t.Fatal(err)
	}
	spun := CPUSeconds(a, b)
	if spun < 0.1 {
		t.Fatalf("%.3f s of CPU after spinning %v", spun, time.Since(start))
	}
	elapsed := time.Since(start).Seconds()
	busy := 0.0
	for i := range idle0 {
		busy += elapsed - (idle1[i] - idle0[i])
	}
	if busy < spun-0.02 { // cpuidle residency is exact; /proc/stat steps are 10 ms
		t.Fatalf("the cores were busy %.3f s while this process ran %.3f s", busy, spun)
	}
}

// TestWaitListen sees a listening port, and times out on a closed one.
func TestWaitListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := WaitListen(port, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := WaitListen(port, 100*time.Millisecond); err == nil {
		t.Fatal("a closed port listens")
	}
}

// TestCPUTicksAndRSS: the CPU this process is charged is read from both
// sources, a thread that ended falls back to the ticks, and RSS reads.
func TestCPUTicksAndRSS(t *testing.T) {
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Error(err)
	}
	// Spin until the kernel has charged the process 50 ms of CPU (not 50
	// ms of wall time: on a loaded machine the spinner gets a fraction of
	// a core), then ReadCPUTime must have seen most of it.
	a := ReadCPUTime(os.Getpid())
	start := processCPU(t)
	for end := time.Now().Add(20 * time.Second); processCPU(t)-start < 50*time.Millisecond; {
		if time.Now().After(end) {
			t.Fatal("the process was not given 50 ms of CPU in 20 s")
		}
	}
	b := ReadCPUTime(os.Getpid())
	if a.NS < 0 || CPUSeconds(a, b) < 0.03 {
		t.Errorf("50 ms of CPU read as %.3f s (schedstat %d -> %d ns)", CPUSeconds(a, b), a.NS, b.NS)
	}
	if got := CPUSeconds(CPUTime{NS: 5e9, Ticks: 100}, CPUTime{NS: 5e9, Ticks: 200}); got != 1 {
		t.Errorf("a thread that ended: %v s, want the ticks' 1 s", got)
	}
	if r, err := RSSKiB(os.Getpid()); err != nil || r <= 0 {
		t.Errorf("rss %d, %v", r, err)
	}
}

// processCPU is the CPU time the kernel has charged this process.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCoreTimes(t *testing.T) {
	idle, irq, err := CoreTimes()
	if err != nil {
		t.Fatal(err)
	}
	if len(idle) == 0 || len(irq) != len(idle) {
		t.Fatalf("%d idle and %d irq figures", len(idle), len(irq))
	}
	for i := range idle {
		if idle[i] < 0 || irq[i] < 0 {
			t.Errorf("cpu%d idle %.2f s, irq %d", i, idle[i], irq[i])
		}
	}
}
