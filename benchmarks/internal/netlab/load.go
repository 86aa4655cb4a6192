package netlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrLoadOutput is returned when a load generator's output lacks its
// summary.
var ErrLoadOutput = errors.New("netlab: no summary in the load generator's output")

// WrkResult is wrk's summary.
type WrkResult struct {
	Requests    int
	Seconds     float64
	PerSec      float64
	P99, Max    time.Duration
	Connect     int // socket errors, by kind
	Read        int
	Write       int
	Timeout     int
	Non2xx      int // "Non-2xx or 3xx responses"
	Connections int
}

// Failed is every request or connection that went wrong.
func (r WrkResult) Failed() int { return r.Connect + r.Read + r.Write + r.Timeout + r.Non2xx }

var (
	wrkTotalRe   = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkRateRe    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkErrRe     = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkP99Re     = regexp.MustCompile(`(?m)^\s+99%\s+([\d.]+(?:us|ms|s|m))\s*$`)
	wrkLatencyRe = regexp.MustCompile(`(?m)^\s+Latency\s+\S+\s+\S+\s+([\d.]+(?:us|ms|s|m))`)
	wrkConnsRe   = regexp.MustCompile(`(\d+) threads and (\d+) connections`)
)

// ParseWrk reads wrk's output (run with --latency).
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	m := wrkTotalRe.FindStringSubmatch(out)
	rate := wrkRateRe.FindStringSubmatch(out)
	p99 := wrkP99Re.FindStringSubmatch(out)
	lat := wrkLatencyRe.FindStringSubmatch(out)
	if m == nil || rate == nil || p99 == nil || lat == nil {
		return r, fmt.Errorf("%w:\n%s", ErrLoadOutput, out)
	}
	r.Requests, _ = strconv.Atoi(m[1])
	d, err := wrkDuration(m[2] + m[3])
	if err != nil {
		return r, err
	}
	r.Seconds = d.Seconds()
	r.PerSec, _ = strconv.ParseFloat(rate[1], 64)
	if r.P99, err = wrkDuration(p99[1]); err != nil {
		return r, err
	}
	if r.Max, err = wrkDuration(lat[1]); err != nil {
		return r, err
	}
	if e := wrkErrRe.FindStringSubmatch(out); e != nil {
		r.Connect, _ = strconv.Atoi(e[1])
		r.Read, _ = strconv.Atoi(e[2])
		r.Write, _ = strconv.Atoi(e[3])
		r.Timeout, _ = strconv.Atoi(e[4])
	}
	if n := wrkNon2xxRe.FindStringSubmatch(out); n != nil {
		r.Non2xx, _ = strconv.Atoi(n[1])
	}
	if c := wrkConnsRe.FindStringSubmatch(out); c != nil {
		r.Connections, _ = strconv.Atoi(c[2])
	}
	return r, nil
}

// wrkDuration reads wrk's units (us, ms, s, m), which Go's parser knows
// except for "m" meaning minutes.
func wrkDuration(s string) (time.Duration, error) {
	if v, ok := strings.CutSuffix(s, "m"); ok && !strings.HasSuffix(v, "m") {
		f, err := strconv.ParseFloat(v, 64)
		return time.Duration(f * float64(time.Minute)), err
	}
	return time.ParseDuration(s)
}

// BenchResult is the summary "shardnet bench -json" prints.
type BenchResult struct {
	Connections int     `json:"connections"`
	Size        int     `json:"size"`
	Seconds     float64 `json:"seconds"`
	Messages    uint64  `json:"messages"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	LatencyUs   struct {
		P50, P99, Max float64
	} `json:"latency_us"`
	Errors        int      `json:"errors"`
	Mismatch      bool     `json:"mismatch"`
	ErrorMessages []string `json:"error_messages"`
}

// ParseBench finds the JSON summary in bench's merged output: the lines
// from a lone "{" to a lone "}" (progress lines go before it).
func ParseBench(out string) (BenchResult, error) {
	var r BenchResult
	start := strings.Index(out, "\n{\n")
	if strings.HasPrefix(out, "{\n") {
		start = -1
	} else if start < 0 {
		return r, fmt.Errorf("%w:\n%s", ErrLoadOutput, out)
	}
	rest := out[start+1:]
	end := strings.Index(rest, "\n}\n")
	if end < 0 {
		return r, fmt.Errorf("%w:\n%s", ErrLoadOutput, out)
	}
	if err := json.Unmarshal([]byte(rest[:end+2]), &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrLoadOutput, err)
	}
	return r, nil
}

// Load is a load generator running in the client namespace.
type Load struct {
	*Proc
	wrk bool
}

// StartWrk runs wrk against HAProxy's HTTP frontend: keep-alive
// connections (or "Connection: close" requests with close), --timeout
// well past every stall the scenarios make, so a slow answer is timed,
// not dropped.
func (l *Lab) StartWrk(conns int, d time.Duration, close bool) (*Load, error) {
	args := []string{"wrk", "-t2", fmt.Sprintf("-c%d", conns), "-d" + wrkSeconds(d), "--timeout", "30s", "--latency"}
	if close {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, fmt.Sprintf("http://%s:%d/plaintext", BalancerAddr, HTTPPort))
	p, err := l.Start("wrk", l.Client, args...)
	if err != nil {
		return nil, err
	}
	return &Load{Proc: p, wrk: true}, nil
}

func wrkSeconds(d time.Duration) string {
	return strconv.Itoa(int(max(1, d.Round(time.Second)/time.Second))) + "s"
}

// StartBench runs "shardnet bench" against addr (echo through HAProxy, or
// the shardnet proxy): conns connections, size-byte messages, pipeline
// in flight each, every byte verified.
func (l *Lab) StartBench(bin, addr string, conns, size, pipeline int, d time.Duration) (*Load, error) {
	p, err := l.Start("bench", l.Client, bin, "bench", "-addr", addr, "-c", strconv.Itoa(conns),
		"-size", strconv.Itoa(size), "-pipeline", strconv.Itoa(pipeline), "-duration", d.String(),
		"-shards", "1", "-connect-timeout", "10s", "-json")
	if err != nil {
		return nil, err
	}
	return &Load{Proc: p}, nil
}

// loadWait is how long a load may run past its duration (wrk and bench
// stop on their own; this only catches a hang).
const loadWait = 60 * time.Second

// Wrk waits for wrk and returns its summary.
func (ld *Load) Wrk(d time.Duration) (WrkResult, error) {
	_ = ld.Wait(d + loadWait) // wrk exits 0 even with errors; the summary says
	return ParseWrk(ld.Output())
}

// Bench waits for bench and returns its summary (bench exits 1 when a
// connection failed, which the summary counts).
func (ld *Load) Bench(d time.Duration) (BenchResult, error) {
	if err := ld.Wait(d + loadWait); err != nil && !ld.Exited() {
		return BenchResult{}, err
	}
	return ParseBench(ld.Output())
}
