// Package peer is what the benchmark servers under cmd/peer-* share: the
// command line, the signals the driver uses, and the HTTP behaviour (see
// http.go). Each engine's server is its own binary, so that no engine's
// package init (gnet starts a goroutine pool, netpoll its pollers) runs in
// another engine's process.
//
//	peer-gnet -mode http -addr 127.0.0.1:8080 -loops 1
//	peer-gnet -mode udp -addr 127.0.0.1:8081 -loops 1   # UDP echo (peers started with MainUDP)
//
// A server prints "ready" on stdout once it accepts connections. SIGUSR1
// prints "mallocs N" (runtime.MemStats.Mallocs) on stdout, so the driver
// can count allocations over a window; SIGUSR2 writes a heap profile to
// -memprofile (after a GC), for the idle-memory analysis; SIGTERM ends it,
// writing -cpuprofile first.
package peer

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
)

// Serve starts an engine's server on addr in mode "echo" or "http" with
// the given number of event loops; it calls Ready once it accepts and
// returns only on failure.
type Serve func(addr, mode string, loops int) error

// ServeUDP starts an engine's UDP echo server on addr (every datagram
// written back to its sender) with the given number of event loops; it
// calls Ready once the socket is bound and returns only on failure.
type ServeUDP func(addr string, loops int) error

// Main parses the flags, sets up profiling and signals and runs serve.
func Main(name string, serve Serve) { run(name, serve, nil) }

// MainUDP is Main for a peer that also has a UDP echo server: -mode udp
// runs serveUDP.
func MainUDP(name string, serve Serve, serveUDP ServeUDP) { run(name, serve, serveUDP) }

func run(name string, serve Serve, serveUDP ServeUDP) {
	modes := "echo|http"
	if serveUDP != nil {
		modes += "|udp"
	}
	mode := flag.String("mode", "echo", modes)
	addr := flag.String("addr", "127.0.0.1:7000", "listen address host:port")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops (ignored by net)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	memprofile := flag.String("memprofile", "", "write a heap profile here on SIGUSR2")
	tracefile := flag.String("trace", "", "write a runtime execution trace here until SIGTERM (scheduling latency: go tool trace)")
	flag.Parse()
	switch {
	case *mode == "udp" && serveUDP == nil:
		fail(name, fmt.Errorf("-mode udp: peer-%s has no UDP server", name))
	case *mode != "echo" && *mode != "http" && *mode != "udp":
		fail(name, fmt.Errorf("-mode %q: want %s", *mode, modes))
	}
	if *loops < 1 {
		fail(name, fmt.Errorf("-loops %d: want at least 1", *loops))
	}
	if *mode == "http" {
		StartDateClock()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(name, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(name, err)
		}
	}
	if *tracefile != "" {
		f, err := os.Create(*tracefile)
		if err != nil {
			fail(name, err)
		}
		if err := trace.Start(f); err != nil {
			fail(name, err)
		}
	}
	go signals(*cpuprofile != "", *tracefile != "", *memprofile)
	if *mode == "udp" {
		fail(name, serveUDP(*addr, *loops))
	}
	fail(name, serve(*addr, *mode, *loops))
}

// Ready tells the driver the server accepts connections.
func Ready() { fmt.Println("ready") }

func signals(profiling, tracing bool, memprofile string) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	for sig := range ch {
		if sig == syscall.SIGUSR2 {
			if memprofile != "" {
				runtime.GC()
				if f, err := os.Create(memprofile); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
				fmt.Println("memprofile written")
			}
			// Where an idle connection's bytes are: the heap (buffers,
			// structs) or goroutine stacks.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("heapinuse %d stackinuse %d goroutines %d\n", ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine())
			continue
		}
		if sig == syscall.SIGUSR1 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("mallocs %d\n", ms.Mallocs)
			continue
		}
		if profiling {
			pprof.StopCPUProfile()
		}
		if tracing {
			trace.Stop()
		}
		os.Exit(0)
	}
}

func fail(name string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "peer-%s: %v\n", name, err)
		os.Exit(1)
	}
}
