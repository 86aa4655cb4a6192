package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// RPS/RFS on lo (-rfs). On loopback the sender's system call runs the
// receiver's TCP processing in its own softirq: the client's core pays
// for the server's receive and the other way round. With Receive Packet
// Steering and Receive Flow Steering, a packet is queued to the backlog of
// the CPU where its socket was last read, so each side's receive work
// lands on its own core. The driver turns them on for the run and puts the
// old values back at the end, on an error and on SIGINT or SIGTERM.

// rfsFlows is the flow table size set for the run (rps_sock_flow_entries
// and the queue's rps_flow_cnt).
const rfsFlows = 32768

var rfsFiles = []string{
	"/sys/class/net/lo/queues/rx-0/rps_cpus",
	"/sys/class/net/lo/queues/rx-0/rps_flow_cnt",
	"/proc/sys/net/core/rps_sock_flow_entries",
}

// enableRFS turns RPS/RFS on for lo and returns the function that restores
// the previous settings.
func enableRFS() (restore func(), err error) {
	old := make([]string, len(rfsFiles))
	for i, f := range rfsFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("-rfs: %w", err)
		}
		old[i] = strings.TrimSpace(string(b))
	}
	restore = func() {
		for i := len(rfsFiles) - 1; i >= 0; i-- {
			if err := os.WriteFile(rfsFiles[i], []byte(old[i]+"\n"), 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "bench: restoring %s to %s: %v\n", rfsFiles[i], old[i], err)
			}
		}
		fmt.Printf("bench: RPS/RFS on lo restored (rps_cpus %s, rps_flow_cnt %s, rps_sock_flow_entries %s)\n", old[0], old[1], old[2])
	}
	mask := strconv.FormatUint(uint64(1)<<runtime.NumCPU()-1, 16)
	for i, v := range []string{mask, strconv.Itoa(rfsFlows), strconv.Itoa(rfsFlows)} {
		if err := os.WriteFile(rfsFiles[i], []byte(v+"\n"), 0o644); err != nil {
			restore()
			return nil, fmt.Errorf("-rfs: writing %s: %w (root needed)", rfsFiles[i], err)
		}
	}
	fmt.Printf("bench: RPS/RFS on lo: rps_cpus %s, rps_flow_cnt %d, rps_sock_flow_entries %d\n", mask, rfsFlows, rfsFlows)
	return restore, nil
}

// The driver's exit hooks: run once, on the normal end, on must's exit and
// on SIGINT or SIGTERM.
var (
	exitMu    sync.Mutex
	exitHooks []func()
)

func atExit(f func()) {
	exitMu.Lock()
	exitHooks = append(exitHooks, f)
	exitMu.Unlock()
}

func runAtExit() {
	exitMu.Lock()
	hooks := exitHooks
	exitHooks = nil
	exitMu.Unlock()
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i]()
	}
}

// stopOnSignal runs the exit hooks and exits on SIGINT or SIGTERM. The
// servers and clients it started are its children and see the same signal
// from the terminal; a lone SIGTERM to the driver leaves them to end with
// their run.
func stopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		runAtExit()
		fmt.Fprintf(os.Stderr, "bench: %v\n", sig)
		os.Exit(1)
	}()
}
