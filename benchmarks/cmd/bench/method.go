package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// method is what the results were measured on and how.
type method struct {
	Date      string `json:"date"`
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Commit    string `json:"commit"`
	Dirty     bool   `json:"dirty"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
	Wrk       string `json:"wrk"`
	Iperf3    string `json:"iperf3"`
	HAProxy   string `json:"haproxy"`
	Redis     string `json:"redis"`
	Duration  string `json:"duration"`
	Rounds    int    `json:"rounds"`
	IdleConns int    `json:"idle_conns"`
	Command   string `json:"command"`
	Pinned    bool   `json:"pinned"`
	Elapsed   string `json:"elapsed"`
	// Fractions are the fixed rates as fractions of the slowest server's
	// saturated rate; Extras the extra shardnet builds; RPS the RPS/RFS
	// settings of lo (the suites assume them off, the kernel's default).
	Fractions []float64 `json:"rate_fractions"`
	Extras    []string  `json:"extra_builds,omitempty"`
	RPS       string    `json:"rps"`
	GCC       string    `json:"gcc"`
}

func describeMachine(d time.Duration, rounds, idle int) *method {
	m := &method{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
		CPUs:      runtime.NumCPU(),
		Kernel:    firstLine(run("uname", "-r")),
		Go:        runtime.Version(),
		Commit:    firstLine(run("git", "rev-parse", "--short", "HEAD")),
		Dirty:     strings.TrimSpace(run("git", "status", "--porcelain", "--untracked-files=no")) != "",
		LoadStart: loadavg(),
		Wrk:       firstLine(run("wrk", "-v")),
		Iperf3:    firstLine(run("iperf3", "--version")),
		HAProxy:   firstLine(run("haproxy", "-v")),
		Redis:     firstLine(run("redis-server", "--version")),
		GCC:       firstLine(run("gcc", "--version")),
		RPS:       rpsSettings(),
		Duration:  d.String(),
		Rounds:    rounds,
		IdleConns: idle,
		Command:   "cd benchmarks && go run ./cmd/bench " + strings.Join(os.Args[1:], " "),
		Pinned:    haveTaskset,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func run(name string, args ...string) string {
	b, _ := exec.Command(name, args...).CombinedOutput()
	return string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// rpsSettings reads lo's RPS/RFS settings: "rps_cpus 0, rps_flow_cnt 0,
// rps_sock_flow_entries 0" is off.
func rpsSettings() string {
	var parts []string
	for _, f := range []string{"/sys/class/net/lo/queues/rx-0/rps_cpus", "/sys/class/net/lo/queues/rx-0/rps_flow_cnt", "/proc/sys/net/core/rps_sock_flow_entries"} {
		b, err := os.ReadFile(f)
		v := strings.TrimSpace(string(b))
		if err != nil {
			v = "?"
		}
		parts = append(parts, filepath.Base(f)+" "+v)
	}
	return strings.Join(parts, ", ")
}
