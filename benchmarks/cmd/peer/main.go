// Command peer is one benchmark server: an echo or HTTP plaintext server
// written against one engine's public API (Go's net, gnet, netpoll, nbio or
// shardnet), with the behaviour every peer shares (see http.go). The driver
// in ../bench runs it pinned, with GOMAXPROCS and -loops set.
//
//	peer -peer gnet -mode http -addr 127.0.0.1:8080 -loops 1
//
// It prints "ready" on stdout once it accepts connections. SIGUSR1 prints
// "mallocs N" (runtime.MemStats.Mallocs) on stdout, so the driver can count
// allocations over a window; SIGTERM ends it, writing -cpuprofile first.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

func main() {
	peer := flag.String("peer", "shardnet", "engine: net|gnet|netpoll|nbio|shardnet")
	mode := flag.String("mode", "echo", "echo|http")
	addr := flag.String("addr", "127.0.0.1:7000", "listen address host:port")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops (ignored by net)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	flag.Parse()
	if *mode != "echo" && *mode != "http" {
		fail(fmt.Errorf("-mode %q: want echo or http", *mode))
	}
	if *loops < 1 {
		fail(fmt.Errorf("-loops %d: want at least 1", *loops))
	}
	if *mode == "http" {
		startDateClock()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
	}
	go signals(*cpuprofile != "")

	var err error
	switch *peer {
	case "net":
		err = serveNet(*addr, *mode)
	case "gnet":
		err = serveGnet(*addr, *mode, *loops)
	case "netpoll":
		err = serveNetpoll(*addr, *mode, *loops)
	case "nbio":
		err = serveNbio(*addr, *mode, *loops)
	case "shardnet":
		err = serveShardnet(*addr, *mode, *loops)
	default:
		err = fmt.Errorf("-peer %q: want net|gnet|netpoll|nbio|shardnet", *peer)
	}
	fail(err)
}

// ready tells the driver the server accepts connections.
func ready() { fmt.Println("ready") }

func signals(profiling bool) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	for sig := range ch {
		if sig == syscall.SIGUSR1 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("mallocs %d\n", ms.Mallocs)
			continue
		}
		if profiling {
			pprof.StopCPUProfile()
		}
		os.Exit(0)
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}
