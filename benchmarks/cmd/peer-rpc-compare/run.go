package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// sample is one run's figures. Per-call figures are over the measuring
// window (see run) and the calls the client verified in it.
type sample struct {
	offered     int     // calls/s asked for (0: saturation)
	callsPerSec float64 // as the client counted, over its whole run
	serverCPU   float64 // share of one core, the server process's threads
	coreCPU     float64 // share of CPU 0 busy (the server's core)
	clientCPU   float64 // the client process, over its whole run (rusage)
	cpuPerCall  float64 // µs of the server process's CPU per call
	corePerCall float64 // µs of CPU 0's busy time per call
	sysmon      float64 // µs per call of that run time spent by the Go runtime's sysmon thread
	reads       float64 // read-type system calls per call
	writes      float64 // write-type system calls per call
	slices      float64 // times the server's threads were scheduled in, per call (wake-ups)
	p50, p99    float64 // µs
	p999        float64
	failed      bool // the client failed (errors, or no call answered)
}

// Time cut from each end of a run before measuring: connecting, the
// first calls, and the client's shutdown are not the steady state.
const (
	skipStart = 500 * time.Millisecond
	skipEnd   = 200 * time.Millisecond
)

var listenRe = regexp.MustCompile(`listening on tcp://(\S+)`)

// run starts p's server on CPU 0, runs its client on CPU 1 for d (each in
// its namespace when p.wrap is set: "ip netns exec" and taskset exec in
// place, so the PID started is the server's), and
// returns the figures and the raw output. The server's counters are read
// at skipStart into the client's run and skipEnd before its end; the
// calls in that window are the client's rate times its length (at a fixed
// rate, the offered rate the client kept up with).
func run(p peer, size, rate int, d time.Duration) (sample, string) {
	host := "127.0.0.1"
	if p.wrap != nil {
		host = serverHost
	}
	srvArgv := append([]string{"taskset", "-c", "0"}, p.server(host)...)
	if p.wrap != nil {
		srvArgv = p.wrap(true, srvArgv)
	}
	srv := exec.Command(srvArgv[0], srvArgv[1:]...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		fatal(err)
	}
	stop := func() string {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-done
		}
		return srv.ProcessState.String()
	}
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("%s: %v", p.name, err))
	}
	// The server's own report (its stop line and totals) goes into the
	// raw record, read once the server has exited.
	var srvOut bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&srvOut, br); close(copied) }()
	m := listenRe.FindStringSubmatch(line)
	if m == nil {
		fatal(fmt.Errorf("%s: start-up line %q", p.name, line))
	}
	argv := append([]string{"taskset", "-c", "1"}, p.client(m[1], size, rate)...)
	if p.wrap != nil {
		argv = p.wrap(false, argv)
	}
	pid := srv.Process.Pid
	cl := exec.Command(argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cl.Stdout, cl.Stderr = &out, &errb
	t0 := time.Now()
	if err := cl.Start(); err != nil {
		fatal(err)
	}
	win := d - skipStart - skipEnd
	type reading struct {
		at time.Time
		s  procSample
	}
	readings := make(chan reading, 2)
	go func() {
		time.Sleep(skipStart)
		readings <- reading{time.Now(), readProc(pid)}
		time.Sleep(win)
		readings <- reading{time.Now(), readProc(pid)}
	}()
	err = cl.Wait()
	wall := time.Since(t0)
	a, b := <-readings, <-readings
	if err != nil {
		// A failed run is kept as a zero, not dropped: the summary's
		// minimum shows it and the raw output says why.
		fmt.Fprintf(os.Stderr, "%s client: %v\n%s", p.name, err, errb.String())
		st := stop()
		<-copied
		return sample{failed: true, offered: rate}, strings.Join(argv, " ") + "\nFAILED: " + err.Error() + "\n" + out.String() + errb.String() +
			"server (" + st + "):\n" + line + srvOut.String()
	}
	var clientCPU float64
	if ru, ok := cl.ProcessState.SysUsage().(*syscall.Rusage); ok {
		clientCPU = (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds() / wall.Seconds()
	}
	var res struct {
		Calls       uint64  `json:"calls"`
		CallsPerSec float64 `json:"calls_per_sec"`
		Latency     *struct {
			P50  float64 `json:"p50"`
			P99  float64 `json:"p99"`
			P999 float64 `json:"p99_9"`
		} `json:"latency_us"`
		Errors uint64 `json:"errors"`
	}
	jsonErr := json.Unmarshal(out.Bytes(), &res)
	st := stop()
	<-copied
	srvReport := "server (" + st + "):\n" + line + srvOut.String()
	raw := strings.Join(argv, " ") + "\n" + out.String()
	if jsonErr != nil {
		return sample{failed: true, offered: rate}, raw + "FAILED: client output: " + jsonErr.Error() + "\n" + srvReport
	}
	if res.Errors != 0 || res.Calls == 0 {
		return sample{failed: true, offered: rate}, raw + "FAILED: errors or no calls\n" + srvReport
	}
	span := b.at.Sub(a.at).Seconds()
	calls := res.CallsPerSec * span
	cpu := float64(b.s.runNs-a.s.runNs) / 1e9
	// Threads that ended during the window (a goroutine pool's) are
	// missing from the schedstat sum; the process's utime+stime keeps
	// them, at the tick's resolution. Take it when it says clearly more.
	if ticks := float64(b.s.ticks-a.s.ticks) / clockTicks; ticks > cpu+0.02 {
		cpu = ticks
	}
	core := span - (b.s.core0Idle - a.s.core0Idle)
	s := sample{
		offered:     rate,
		callsPerSec: res.CallsPerSec,
		serverCPU:   cpu / span,
		coreCPU:     core / span,
		clientCPU:   clientCPU,
		cpuPerCall:  cpu * 1e6 / calls,
		corePerCall: core * 1e6 / calls,
		sysmon:      float64(b.s.sysmonNs-a.s.sysmonNs) / 1e3 / calls,
		reads:       float64(b.s.syscr-a.s.syscr) / calls,
		writes:      float64(b.s.syscw-a.s.syscw) / calls,
		slices:      float64(b.s.slices-a.s.slices) / calls,
	}
	if res.Latency != nil {
		s.p50, s.p99, s.p999 = res.Latency.P50, res.Latency.P99, res.Latency.P999
	}
	window := fmt.Sprintf("window %.2fs: server %.3fs CPU (sysmon %.3fs), CPU 0 busy %.3fs, %d reads, %d writes, %d slices; %.0f calls\n",
		span, cpu, float64(b.s.sysmonNs-a.s.sysmonNs)/1e9, core, b.s.syscr-a.s.syscr, b.s.syscw-a.s.syscw, b.s.slices-a.s.slices, calls)
	return s, raw + window + srvReport
}
