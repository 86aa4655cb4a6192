//go:build linux

// Command netlab is the long form of issue 19's network-namespace lab: it
// builds the lab of benchmarks/internal/netlab (a client, HAProxy on a
// balancer, three backends each running shardnet http and echo with
// -shards 1 -accept-proxy), runs every scenario under load (SIGKILL,
// SIGSTOP, a hand-over of each backend, a rolling hand-over of all three;
// wrk for http, shardnet bench for echo), then each impairment of the
// client's link alone, and writes the results as Markdown. It exits 1 if
// any promise did not hold. Root only; it removes its namespaces on exit.
//
//	cd benchmarks && go run ./cmd/netlab -out results/netns-19
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/netlab"
)

func main() {
	out := flag.String("out", "results/netns-19", "directory for RESULTS.md")
	bin := flag.String("shardnet", "", "the shardnet binary (default: build ../tools/shardnet without the race detector)")
	d := flag.Duration("d", 10*time.Second, "each load's duration")
	only := flag.String("only", "", "run only this part: balancer or network")
	flag.Parse()
	if err := run(*out, *bin, *d, *only); err != nil {
		fmt.Fprintln(os.Stderr, "netlab:", err)
		os.Exit(1)
	}
}

func run(out, bin string, d time.Duration, only string) error {
	if bin == "" {
		dir, err := os.MkdirTemp("", "netlab-bin")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "shardnet")
		cmd := exec.Command("go", "build", "-o", bin, "./tools/shardnet")
		cmd.Dir = ".."
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, b)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	r, err := netlab.NewRig(bin)
	if err != nil {
		return err
	}
	defer r.Close()
	// Remove the namespaces on ^C too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; r.Close(); os.Exit(130) }()

	var md bytes.Buffer
	failed := 0
	count := func(rs []netlab.Result) {
		for _, x := range rs {
			if x.Err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "netlab: %s / %s: %v\n", x.Scenario, x.Load, x.Err)
			}
		}
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	hv, _ := exec.Command("haproxy", "-v").Output()
	fmt.Fprintf(&md, "Run %s; kernel %s; %s; load average at the start: %s\n\n",
		time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(string(kernel)), firstLine(string(hv)), strings.TrimSpace(string(load)))

	if only == "" || only == "balancer" {
		spec := netlab.LoadSpec{Duration: d, WrkConns: 32, EchoConns: 24, EchoSize: 512, EchoDepth: 2, EchoRate: 10000}
		for _, kind := range []string{"http", "echo"} {
			var rs []netlab.Result
			fmt.Fprintf(os.Stderr, "netlab: %s behind HAProxy\n", kind)
			rs = append(rs, r.Kill(kind, spec), r.Stop(kind, spec))
			for i := 1; i <= netlab.Backends; i++ {
				rs = append(rs, r.Restart(kind, []int{i}, spec, false))
			}
			rs = append(rs, r.Restart(kind, []int{1, 2, 3}, spec, false))
			if kind == "http" {
				rs = append(rs, r.Restart(kind, []int{1, 2, 3}, spec, true))
			}
			fmt.Fprintf(&md, "### %s behind HAProxy\n\n", kind)
			netlab.Table(&md, kind, rs)
			md.WriteString("\n")
			count(rs)
		}
	}
	if only == "" || only == "network" {
		proxy, err := r.StartProxy()
		if err != nil {
			return err
		}
		im, err := r.Impair()
		if err != nil {
			return err
		}
		spec := netlab.MisbehaveSpec{Duration: d, EchoConns: 8, EchoSize: 512, EchoRate: 800, ShaBytes: 8 << 20, MemSlack: 32 << 20,
			QueueConns: 4, QueueBytes: 32 << 20, QueueSlack: 8 << 20}
		cases := []struct {
			name string
			x    netlab.Impairment
			dead time.Duration
		}{
			{"delay 100ms ± 20ms", netlab.Impairment{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond}, 0},
			{"loss 2%", netlab.Impairment{Loss: 0.02}, 0},
			{"reorder 1%", netlab.Impairment{Reorder: 0.01, ReorderHold: 5 * time.Millisecond}, 0},
			{"corrupt 0.1%", netlab.Impairment{Corrupt: 0.001}, 0},
			{"loss 100% for 3s", netlab.Impairment{}, 3 * time.Second},
		}
		var rs []netlab.Result
		for _, c := range cases {
			fmt.Fprintf(os.Stderr, "netlab: %s\n", c.name)
			s := spec
			s.Dead = c.dead
			if c.x.Delay > 0 {
				// A fixed rate above what 8 connections with one message
				// each in flight can do at a 200 ms round trip would only
				// measure the backlog: run closed loop.
				s.EchoRate = 0
			}
			rs = append(rs, r.Misbehave(c.name, im, c.x, proxy, s)...)
		}
		im.Close()
		md.WriteString("### The client's link misbehaving\n\n")
		netlab.Table(&md, "", rs)
		md.WriteString("\n")
		count(rs)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := "RESULTS-run.md"
	if only != "" {
		name = "RESULTS-" + only + ".md"
	}
	if err := os.WriteFile(filepath.Join(out, name), md.Bytes(), 0o644); err != nil {
		return err
	}
	os.Stdout.Write(md.Bytes())
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) did not hold", failed)
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
