// Command idleclient opens -n TCP connections to -addr and holds them open
// without sending, so the driver can measure a server's memory per idle
// connection from another process. Connections come from -sources local
// addresses 127.0.0.2, 127.0.0.3, ... so that no one source runs short of
// ephemeral ports. It prints "connected N" once every dial has finished
// and then waits for SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "server address")
	n := flag.Int("n", 10000, "connections")
	sources := flag.Int("sources", 4, "local source addresses 127.0.0.2 and up")
	parallel := flag.Int("parallel", 64, "dials in flight")
	flag.Parse()

	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for i := 0; i < *n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			d := net.Dialer{
				Timeout:   10 * time.Second,
				LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%*sources))},
			}
			c, err := d.Dial("tcp", *addr)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "idleclient: %d of %d dials failed, first: %v\n", f, *n, firstErr.Load())
		os.Exit(1)
	}
	fmt.Printf("connected %d\n", *n)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	for _, c := range conns {
		c.Close()
	}
}
