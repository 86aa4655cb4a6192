package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// floodPhase is how long BenchmarkTLSHandshakeFlood measures the
// established connections, unloaded and then during the flood.
const floodPhase = 3 * time.Second

// echoStats is what the established connections did in one phase.
type echoStats struct {
	trips int
	p99   time.Duration
	rate  float64 // round trips per second, all connections
}

// measureEcho runs closed-loop 1 KiB round trips on every connection for
// d and returns their count, rate and 99th percentile.
func measureEcho(tb testing.TB, conns []*tls.Conn, d time.Duration) echoStats {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, 1024)
			var lat []time.Duration
			for time.Since(start) < d {
				t0 := time.Now()
				if _, err := roundTrip(c, msg, 30*time.Second); err != nil {
					tb.Error(err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	st := echoStats{trips: len(all), rate: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		st.p99 = all[len(all)*99/100]
	}
	return st
}

// floodMaxEnv gives runFloodChild its WithMaxHandshakes.
const floodMaxEnv = "SHARDNET_FLOOD_MAX_HANDSHAKES"

// runFloodChild is BenchmarkTLSHandshakeFlood's server, in a process of
// its own so that its handshake goroutines compete with its shards alone,
// not with the clients: a TLS echo engine on two shards with
// WithMaxHandshakes from floodMaxEnv. It prints its address, and answers each "stats" line
// on stdin with its counts of handshakes completed, failed and refused.
func runFloodChild() int {
	ca, err := tlscert.NewAuthority("flood child")
	if err == nil {
		var leaf tls.Certificate
		if leaf, err = ca.Leaf("127.0.0.1"); err == nil {
			var e *Engine
			var maxHS int
			if maxHS, err = strconv.Atoi(os.Getenv(floodMaxEnv)); err == nil {
				e, err = New(echoHandler{}, WithShards(2), WithMaxHandshakes(maxHS))
			}
			if err == nil {
				return serveFloodChild(e, &tls.Config{Certificates: []tls.Certificate{leaf}})
			}
		}
	}
	fmt.Fprintln(os.Stderr, "child:", err)
	return 1
}

func serveFloodChild(e *Engine, cfg *tls.Config) int {
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	}()
	addr, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(cfg))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println(addr.String())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		st := e.Stats()
		fmt.Printf("%d %d %d\n", st.TLSHandshakes, st.TLSFailed, st.TLSRefused)
	}
	return 0
}

// floodCounts asks the flood child for its handshake counts.
func floodCounts(tb testing.TB, ch *child) (done, failed, refused uint64) {
	tb.Helper()
	if _, err := io.WriteString(ch.stdin, "stats\n"); err != nil {
		tb.Fatal(err)
	}
	line, err := ch.out.ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := fmt.Sscan(line, &done, &failed, &refused); err != nil {
		tb.Fatalf("child stats %q: %v", line, err)
	}
	return done, failed, refused
}

// BenchmarkTLSHandshakeFlood reports what a handshake flood costs the
// connections already established, on both shards: their round trips'
// p99 and rate unloaded, then while 5,000 flooders each keep one
// handshake going (dial, a real ClientHello, wait for the server's
// flight, reset, again), so that the server runs full handshakes (X25519,
// an ECDSA P-256 signature) as fast as it can take them, up to
// WithMaxHandshakes at once, and refuses the rest: with the default cap
// (4096), and with a cap of 64, which bounds the handshake goroutines
// that compete with the shards for the CPUs.
// The targets are p99 ≤ 2× and rate ≥ 0.5× of unloaded; this
// reports the ratios, it does not assert them. The server runs in a child
// process (runFloodChild), the clients here, all on the machine's CPUs,
// so run it alone:
//
//	go test -run '^$' -bench TLSHandshakeFlood -benchtime 1x ./engine/
func BenchmarkTLSHandshakeFlood(b *testing.B) {
	for _, maxHS := range []int{4096, 64} {
		b.Run("maxHandshakes="+strconv.Itoa(maxHS), func(b *testing.B) { benchFlood(b, maxHS) })
	}
}

func benchFlood(b *testing.B, maxHS int) {
	if b.N > 1 {
		b.Skip("one measurement per run; use -benchtime 1x -count N")
	}
	flood := 5000
	if raceEnabled {
		flood = 1000 // the race detector allows 8,128 goroutines
	}
	// The child's certificate is its own: these clients measure, they do
	// not check it (the tests do).
	ccfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
	ch := startChild(b, "tls-flood", floodMaxEnv+"="+strconv.Itoa(maxHS))
	addr := ch.addr
	var conns []*tls.Conn
	for i := 0; i < 8; i++ { // round-robin: four on each shard
		c, err := tls.Dial("tcp", addr, ccfg)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := roundTrip(c, []byte("warm"), 10*time.Second); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	hello := clientHello(b, ccfg)

	measureEcho(b, conns, time.Second/2) // warm-up
	unloaded := measureEcho(b, conns, floodPhase)

	stop := make(chan struct{})
	var floods, flooderErrs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					flooderErrs.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				c.Write(hello)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				c.Read(buf) // the server's flight, or the reset of a refusal
				c.(*net.TCPConn).SetLinger(0)
				c.Close() // a reset: no TIME_WAIT to run the ports out
				floods.Add(1)
			}
		}()
	}
	time.Sleep(time.Second) // the flood ramps up
	_, failed0, refused0 := floodCounts(b, ch)
	f0 := floods.Load()
	loaded := measureEcho(b, conns, floodPhase)
	_, failed1, refused1 := floodCounts(b, ch)
	f1 := floods.Load()
	close(stop)
	wg.Wait()

	secs := floodPhase.Seconds()
	b.ReportMetric(float64(unloaded.p99.Microseconds()), "unloaded-p99-µs")
	b.ReportMetric(float64(loaded.p99.Microseconds()), "flood-p99-µs")
	b.ReportMetric(float64(loaded.p99)/float64(unloaded.p99), "p99-ratio")
	b.ReportMetric(unloaded.rate, "unloaded-trips/s")
	b.ReportMetric(loaded.rate, "flood-trips/s")
	b.ReportMetric(loaded.rate/unloaded.rate, "rate-ratio")
	b.ReportMetric(float64(f1-f0)/secs, "flood-conns/s")
	b.ReportMetric(float64((failed1-failed0)-(refused1-refused0))/secs, "handshakes-run/s")
	b.ReportMetric(float64(refused1-refused0)/secs, "refused/s")
	b.ReportMetric(float64(flooderErrs.Load()), "flood-dial-errors")
}
