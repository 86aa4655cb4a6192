package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// tlsMemConns is how many idle connections BenchmarkIdleTLSConnMemory
// holds: clients here, server in a child process, each well under the
// process's fd limit.
const tlsMemConns = 1000

// tlsMemRequest is the request each connection sends once before going
// idle: a full 16 KiB record, which makes crypto/tls grow its input
// buffer to hold one.
const tlsMemRequest = 16 << 10

// runMemChild serves echo on a loopback port it prints, and answers each
// "mem" line on stdin with its live heap plus goroutine stacks after a GC,
// and its connection count. Modes: "plain" and "tls" (the engine),
// "nettls" (crypto/tls over net, a goroutine per connection reading into
// 4 KiB, as net/http's bufio.Reader does).
func runMemChild(mode string) int {
	var cfg *tls.Config
	if mode != "plain" {
		ca, err := tlscert.NewAuthority("mem child")
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		leaf, err := ca.Leaf("127.0.0.1")
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{leaf}}
	}
	var conns func() int
	var stop func() error
	if mode == "nettls" {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		var live atomic.Int64
		var wg sync.WaitGroup
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				live.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer live.Add(-1)
					defer c.Close()
					buf := make([]byte, 4096)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
				}()
			}
		}()
		fmt.Println(ln.Addr().String())
		conns = func() int { return int(live.Load()) }
		stop = func() error { ln.Close(); wg.Wait(); return nil }
	} else {
		e, err := New(echoHandler{}, WithShards(1))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		var opts []ListenOption
		if cfg != nil {
			opts = append(opts, ListenTLS(cfg))
		}
		addr, err := e.Listen("tcp://127.0.0.1:0", opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		fmt.Println(addr.String())
		conns = e.Conns
		stop = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return e.Stop(ctx)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		fmt.Printf("%d %d\n", ms.HeapAlloc+ms.StackInuse, conns())
	}
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "child: stop:", err)
		return 1
	}
	return 0
}

// childHeap asks a mem child for its live heap and connection count.
func childHeap(tb testing.TB, ch *child) (heap int64, conns int) {
	tb.Helper()
	if _, err := io.WriteString(ch.stdin, "mem\n"); err != nil {
		tb.Fatal(err)
	}
	line, err := ch.out.ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(line)
	heap, _ = strconv.ParseInt(f[0], 10, 64)
	conns, _ = strconv.Atoi(f[1])
	return heap, conns
}

// BenchmarkIdleTLSConnMemory reports the server's live heap and stacks
// per idle connection after each sent one 16 KiB request and read the
// echo: the engine in plaintext and TLS, and crypto/tls over net with a
// goroutine per connection, side by side (the server runs in a child
// process, so the clients' own TLS state is not counted).
func BenchmarkIdleTLSConnMemory(b *testing.B) {
	if b.N > 1 {
		b.Skip("one measurement per run; use -benchtime 1x -count N")
	}
	req := make([]byte, tlsMemRequest)
	for _, mode := range []string{"plain", "tls", "nettls"} {
		ch := startChild(b, "mem-"+mode)
		before, _ := childHeap(b, ch)
		conns := make([]net.Conn, 0, tlsMemConns)
		for range tlsMemConns {
			nc, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			if mode != "plain" {
				nc = tls.Client(nc, &tls.Config{InsecureSkipVerify: true}) // a measurement, not a check
			}
			conns = append(conns, nc)
			if _, err := roundTrip(nc, req, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		after, n := childHeap(b, ch)
		if n != tlsMemConns {
			b.Fatalf("%s: the child holds %d connections, want %d", mode, n, tlsMemConns)
		}
		b.ReportMetric(float64(after-before)/tlsMemConns, mode+"-live-B/conn")
		for _, nc := range conns {
			nc.Close()
		}
	}
}
