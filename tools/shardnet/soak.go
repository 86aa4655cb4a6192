//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/handlers"
)

// soakReport is what a soak client prints each second, one JSON line.
type soakReport struct {
	Client     int    `json:"client"`
	Live       int    `json:"live"`
	Opened     uint64 `json:"opened"`
	Closed     uint64 `json:"closed"`
	Bytes      uint64 `json:"bytes_verified"`
	Mismatches uint64 `json:"mismatches"`
	Errors     uint64 `json:"errors"`
	Refused    uint64 `json:"refused"`
	LastError  string `json:"last_error,omitempty"`
	Done       bool   `json:"done"`
}

// processSample is the server process's resource use at one moment.
type processSample struct {
	RSS        int64 // bytes
	Fds        int
	Goroutines int
}

func sampleProcess() processSample {
	s := processSample{Goroutines: runtime.NumGoroutine()}
	s.RSS, _ = rssOf("/proc/self/status")
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.Fds = len(ents)
	}
	return s
}

// rssOf reads a process's resident set size, in bytes, from its
// /proc/<pid>/status file; ok is false if the file cannot be read or has
// no VmRSS line.
func rssOf(statusFile string) (rss int64, ok bool) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, true
		}
	}
	return 0, false
}

// runSoak runs the echo server in this process and load from client child
// processes (this binary's soak-client), so the server can hold as many
// connections as the per-process fd limit allows. It reports bytes
// verified, mismatches, churn and the server's RSS, fds and goroutines, and
// fails (exit 1) on any mismatch or on fds or goroutines that do not come
// back to their baseline once the load stops.
func runSoak(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("soak", "Soak test: echo server here, load and byte verification from client processes.", `  shardnet soak                                    # 30 s, 1,000 connections, 2 client processes
  shardnet soak -duration 10m -conns 19000 -clients 4   # the full soak on a 20,000-fd machine
  shardnet soak -conns 5000 -busy 0.1 -lifetime 5s      # mostly idle, heavy churn
Clients connect from 127.0.0.2, 127.0.0.3, … (one source address per client) so churn does
not run out of ephemeral ports or TIME_WAIT slots. Past 20,000 connections raise the hard
RLIMIT_NOFILE, net.ipv4.ip_local_port_range, net.core.somaxconn and fs.nr_open.
`, stderr)
	duration := fs.Duration("duration", 30*time.Second, "how long the load runs")
	conns := fs.Int("conns", 1000, "connections held open across all clients")
	clients := fs.Int("clients", 2, "client processes (each holds conns/clients connections)")
	busy := fs.Float64("busy", 0.3, "share of connections that exchange messages back to back; the rest are mostly idle")
	lifetime := fs.Duration("lifetime", 10*time.Second, "mean connection lifetime before a client closes and reopens it (churn)")
	maxSize := fs.Int("maxsize", 32<<10, "largest message, bytes (sizes are random from 1)")
	shards := fs.Int("shards", 0, "server shards (default GOMAXPROCS)")
	maxConns := fs.Int("maxconns", 0, "server connection cap (default -conns plus 5% and 500: churn means the server briefly holds closed-but-unseen connections)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *clients < 1 || *conns < *clients {
		fmt.Fprintln(stderr, "shardnet soak: need -clients >= 1 and -conns >= -clients")
		return 2
	}
	if *maxConns == 0 {
		*maxConns = *conns + *conns/20 + 500
	}
	opts := []engine.Option{engine.WithMaxConns(*maxConns)}
	if *shards > 0 {
		opts = append(opts, engine.WithShards(*shards))
	}
	runtime.GC()
	base := sampleProcess()
	e, err := engine.Serve(handlers.Echo{}, []string{"tcp://0.0.0.0:0"}, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet soak: %v\n", err)
		return 1
	}
	addr := e.Addrs()[0].String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "shardnet soak: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "shardnet soak: server on 127.0.0.1:%s shards=%d, %d connections from %d clients for %v (baseline rss=%dMiB fds=%d goroutines=%d)\n",
		port, e.Shards(), *conns, *clients, *duration, base.RSS>>20, base.Fds, base.Goroutines)

	var mu sync.Mutex
	latest := make([]soakReport, *clients)
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	for i := 0; i < *clients; i++ {
		n := *conns / *clients
		if i < *conns%*clients {
			n++
		}
		cmd := exec.Command(self, "soak-client",
			"-addr", "127.0.0.1:"+port, "-src", fmt.Sprintf("127.0.0.%d", 2+i),
			"-conns", strconv.Itoa(n), "-duration", duration.String(), "-busy", fmt.Sprint(*busy),
			"-lifetime", lifetime.String(), "-maxsize", strconv.Itoa(*maxSize), "-id", strconv.Itoa(i))
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			fmt.Fprintf(stderr, "shardnet soak: %v\n", err)
			return 1
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "shardnet soak: start client: %v\n", err)
			return 1
		}
		cmds = append(cmds, cmd)
		wg.Add(1)
		go func(i int, r io.Reader) {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				var rep soakReport
				if json.Unmarshal(sc.Bytes(), &rep) == nil {
					mu.Lock()
					latest[i] = rep
					mu.Unlock()
				}
			}
		}(i, out)
	}

	peak := base
	sum := func() (t soakReport) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range latest {
			t.Live += r.Live
			t.Opened += r.Opened
			t.Closed += r.Closed
			t.Bytes += r.Bytes
			t.Mismatches += r.Mismatches
			t.Errors += r.Errors
			t.Refused += r.Refused
			if r.LastError != "" {
				t.LastError = r.LastError
			}
		}
		return t
	}
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	tick := time.NewTicker(time.Second)
	start := time.Now()
	var rssAtHalf int64
	for running := true; running; {
		select {
		case <-tick.C:
			s := sampleProcess()
			peak.RSS = max(peak.RSS, s.RSS)
			peak.Fds = max(peak.Fds, s.Fds)
			peak.Goroutines = max(peak.Goroutines, s.Goroutines)
			if rssAtHalf == 0 && time.Since(start) >= *duration/2 {
				rssAtHalf = s.RSS
			}
			t := sum()
			fmt.Fprintf(stdout, "%6.0fs server-conns=%d client-live=%d opened=%d closed=%d verified=%dMiB mismatches=%d errors=%d refused=%d rss=%dMiB fds=%d goroutines=%d\n",
				time.Since(start).Seconds(), e.Conns(), t.Live, t.Opened, t.Closed, t.Bytes>>20, t.Mismatches, t.Errors, t.Refused, s.RSS>>20, s.Fds, s.Goroutines)
		case <-clientsDone:
			running = false
		}
	}
	tick.Stop()
	clientFailed := false
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			clientFailed = true
			fmt.Fprintf(stderr, "shardnet soak: client: %v\n", err)
		}
	}
	// The load has stopped: the server must drain to no connections.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	for e.Conns() > 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	left := e.Conns()
	rssLoaded := sampleProcess().RSS
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	stopErr := e.Stop(stopCtx)
	cancel()
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(100 * time.Millisecond)
	end := sampleProcess()
	t := sum()

	res := soakResult{
		Duration: duration.String(), Conns: *conns, Clients: *clients,
		Opened: t.Opened, Closed: t.Closed, BytesVerified: t.Bytes, Mismatches: t.Mismatches, Errors: t.Errors, Refused: t.Refused,
		ServerRefused: e.Stats().Refused, LastError: t.LastError,
		RSSStartMiB: mib(base.RSS), RSSHalfMiB: mib(rssAtHalf), RSSPeakMiB: mib(peak.RSS), RSSAfterLoadMiB: mib(rssLoaded), RSSEndMiB: mib(end.RSS),
		FdsStart: base.Fds, FdsPeak: peak.Fds, FdsEnd: end.Fds,
		GoroutinesStart: base.Goroutines, GoroutinesPeak: peak.Goroutines, GoroutinesEnd: end.Goroutines,
		ServerConnsLeft: left,
	}
	var problems []string
	if t.Mismatches > 0 {
		problems = append(problems, fmt.Sprintf("%d mismatched bytes", t.Mismatches))
	}
	if t.Bytes == 0 {
		problems = append(problems, "no bytes verified")
	}
	if left > 0 {
		problems = append(problems, fmt.Sprintf("%d server connections left after the load stopped", left))
	}
	if end.Fds > base.Fds {
		problems = append(problems, fmt.Sprintf("fds %d after stop, %d before", end.Fds, base.Fds))
	}
	// Goroutines: the signal and pipe readers are gone; allow the runtime's
	// own (e.g. a finalizer goroutine started meanwhile).
	if end.Goroutines > base.Goroutines+2 {
		problems = append(problems, fmt.Sprintf("goroutines %d after stop, %d before", end.Goroutines, base.Goroutines))
	}
	if stopErr != nil {
		problems = append(problems, "stop: "+stopErr.Error())
	}
	if clientFailed {
		problems = append(problems, "a client process failed")
	}
	res.Problems = problems
	if *jsonOut {
		json.NewEncoder(stdout).Encode(res)
	} else {
		fmt.Fprintf(stdout, "soak: %s, %d conns, %d clients: opened=%d closed=%d verified=%dMiB mismatches=%d errors=%d refused=%d (server shed %d at its limits)\n",
			res.Duration, res.Conns, res.Clients, res.Opened, res.Closed, res.BytesVerified>>20, res.Mismatches, res.Errors, res.Refused, res.ServerRefused)
		fmt.Fprintf(stdout, "server rss MiB: start=%d half=%d peak=%d loaded-idle=%d end=%d; fds: start=%d peak=%d end=%d; goroutines: start=%d peak=%d end=%d\n",
			res.RSSStartMiB, res.RSSHalfMiB, res.RSSPeakMiB, res.RSSAfterLoadMiB, res.RSSEndMiB, res.FdsStart, res.FdsPeak, res.FdsEnd, res.GoroutinesStart, res.GoroutinesPeak, res.GoroutinesEnd)
		if t.LastError != "" {
			fmt.Fprintf(stdout, "last client error: %s\n", t.LastError)
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "soak FAILED: %s\n", strings.Join(problems, "; "))
		return 1
	}
	fmt.Fprintln(stdout, "soak PASSED")
	return 0
}

// soakResult is the soak's summary.
type soakResult struct {
	Duration        string   `json:"duration"`
	Conns           int      `json:"conns"`
	Clients         int      `json:"clients"`
	Opened          uint64   `json:"opened"`
	Closed          uint64   `json:"closed"`
	BytesVerified   uint64   `json:"bytes_verified"`
	Mismatches      uint64   `json:"mismatches"`
	Errors          uint64   `json:"errors"`
	Refused         uint64   `json:"refused"`
	ServerRefused   uint64   `json:"server_refused"`
	LastError       string   `json:"last_error,omitempty"`
	RSSStartMiB     int64    `json:"rss_start_mib"`
	RSSHalfMiB      int64    `json:"rss_half_mib"`
	RSSPeakMiB      int64    `json:"rss_peak_mib"`
	RSSAfterLoadMiB int64    `json:"rss_after_load_mib"`
	RSSEndMiB       int64    `json:"rss_end_mib"`
	FdsStart        int      `json:"fds_start"`
	FdsPeak         int      `json:"fds_peak"`
	FdsEnd          int      `json:"fds_end"`
	GoroutinesStart int      `json:"goroutines_start"`
	GoroutinesPeak  int      `json:"goroutines_peak"`
	GoroutinesEnd   int      `json:"goroutines_end"`
	ServerConnsLeft int      `json:"server_conns_left"`
	Problems        []string `json:"problems,omitempty"`
}

func mib(b int64) int64 { return b >> 20 }
