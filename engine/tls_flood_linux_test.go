package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// floodHandler echoes, and counts what the engine reports without ever
// blocking the shard: opens per shard, and handshakes that failed, by
// kind.
type floodHandler struct {
	BaseHandler
	opened  [2]atomic.Int64 // per shard
	refused atomic.Int64    // OnHandshakeFail with ErrTLSBusy
	failed  atomic.Int64    // OnHandshakeFail for any other reason
}

func (h *floodHandler) OnOpen(c *Conn) error {
	h.opened[c.Shard()].Add(1)
	return nil
}

func (h *floodHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}

func (h *floodHandler) OnHandshakeFail(c *Conn, reason error) {
	if errors.Is(reason, ErrTLSBusy) {
		h.refused.Add(1)
		return
	}
	h.failed.Add(1)
}

// liveMem is the heap in use plus goroutine stacks, after a GC.
func liveMem() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// established is a TLS connection opened before a flood, which keeps
// echoing verified data through it.
type established struct {
	conn   *tls.Conn
	rounds atomic.Int64
}

// echoLoop round-trips random payloads on each connection until stop,
// checking every byte; it returns the first error.
func echoLoop(conns []*established, stop <-chan struct{}) error {
	errc := make(chan error, len(conns))
	var wg sync.WaitGroup
	for _, ec := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, 1024)
			for {
				select {
				case <-stop:
					return
				default:
				}
				rand.Read(msg)
				got, err := roundTrip(ec.conn, msg, 90*time.Second)
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errc <- errors.New("echo differs from what was sent")
					return
				}
				ec.rounds.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// TestTLSHandshakeFlood: 5,000 connections start a handshake at once (a
// real ClientHello each, then silence) against WithMaxHandshakes(256).
// The handshakes past the cap are refused at once (at accept, or once
// their ClientHello is in) and counted, and their clients see a reset; the ones under it get the server's flight; the
// goroutines stay bounded by the cap and the memory by the in-flight
// handshakes, not by the flood; connections established before, on both
// shards, echo verified data all along; a new connection is served
// afterwards; and Stop leaves no goroutine or fd (noLeaks, startEngine).
// Speed during a flood is BenchmarkTLSHandshakeFlood's, not asserted here.
func TestTLSHandshakeFlood(t *testing.T) {
	noLeaks(t)
	// The cap is kept low: the in-flight handshakes' CPU comes in one
	// burst (each computes its flight at once), which under -race on a
	// shared machine starves the shards for as long as it lasts; the
	// established connections must come through it, and do, but their
	// wait is what BenchmarkTLSHandshakeFlood measures, not this test.
	flood, maxHS := 5000, 256
	if testing.Short() {
		flood, maxHS = 1000, 100
	}
	pki := newTestPKI(t)
	h := &floodHandler{}
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(2), WithMaxHandshakes(maxHS), WithHandshakeTimeout(time.Minute))

	var est []*established
	for i := 0; i < 8; i++ {
		est = append(est, &established{conn: dialTLS(t, addr, pki.client(tls.VersionTLS13))})
	}
	for _, ec := range est { // each is open on the server once it echoes
		if got, err := roundTrip(ec.conn, []byte("ready"), 10*time.Second); err != nil || string(got) != "ready" {
			t.Fatalf("an established connection: %q, %v", got, err)
		}
	}
	if h.opened[0].Load() == 0 || h.opened[1].Load() == 0 {
		t.Fatalf("established connections per shard %d, %d: want some on each", h.opened[0].Load(), h.opened[1].Load())
	}
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	baseMem, baseG := liveMem(), runtime.NumGoroutine()

	stop := make(chan struct{})
	echoErr := make(chan error, 1)
	go func() { echoErr <- echoLoop(est, stop) }()
	stopEcho := func() error {
		if stop == nil {
			return nil
		}
		close(stop)
		stop = nil
		return <-echoErr
	}
	defer stopEcho()

	// The flood: dialed by 16 goroutines, each connection sends its
	// ClientHello and then nothing.
	clients := make([]net.Conn, flood)
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	})
	var peakG, dialReset atomic.Int64
	var wg sync.WaitGroup
	dialErr := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < flood; i += 16 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					if isReset(err) {
						// Refused at accept before the dial saw its
						// connection established.
						dialReset.Add(1)
						continue
					}
					dialErr <- err
					return
				}
				clients[i] = c
				if _, err := c.Write(hello); err != nil && !errors.Is(err, net.ErrClosed) {
					// A refused connection may be reset before its hello
					// is written: that is what refusing means.
					if !isReset(err) {
						dialErr <- err
						return
					}
				}
				for n := int64(runtime.NumGoroutine()); ; {
					if p := peakG.Load(); n <= p || peakG.CompareAndSwap(p, n) {
						break
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(dialErr)
	for err := range dialErr {
		t.Fatalf("flood dial: %v", err)
	}

	// Every flood connection is either refused or has its handshake in
	// flight, and the in-flight ones are exactly the cap.
	settled := func() bool {
		return int(e.Stats().TLSRefused)+int(e.tlsInFlight.Load()) == flood
	}
	if !waitFor(60*time.Second, settled) {
		t.Fatalf("refused %d + in flight %d, want %d", e.Stats().TLSRefused, e.tlsInFlight.Load(), flood)
	}
	if n := e.tlsInFlight.Load(); n != int64(maxHS) {
		t.Fatalf("%d handshakes in flight, want the cap %d", n, maxHS)
	}
	refused := flood - maxHS
	if st := e.Stats(); int(st.TLSRefused) != refused {
		t.Fatalf("Stats.TLSRefused = %d, want %d", st.TLSRefused, refused)
	}
	// Past the cap a connection is reset at accept, with no Conn and so no
	// OnHandshakeFail; one accepted just below it whose ClientHello came
	// in past it is aborted with ErrTLSBusy and reported. Every refusal
	// is counted once, by one path or the other (the clients' resets are
	// checked below).
	if n := h.refused.Load(); n > int64(refused) {
		t.Fatalf("OnHandshakeFail saw %d refusals (ErrTLSBusy), more than the %d counted", n, refused)
	}
	t.Logf("refused: %d at accept, %d after their ClientHello", int64(refused)-h.refused.Load(), h.refused.Load())
	if g := runtime.NumGoroutine(); g > baseG+maxHS+64 {
		t.Fatalf("%d goroutines during the flood (%d before it): the handshakes' are not bounded by the cap %d", g, baseG, maxHS)
	}
	if g := peakG.Load(); g > int64(baseG+maxHS+64) {
		t.Fatalf("peak of %d goroutines during the flood (%d before it), cap %d", g, baseG, maxHS)
	}

	// What each client sees: a reset (refused), or the server's flight.
	var gotFlight, gotReset atomic.Int64
	var rg sync.WaitGroup
	readErr := make(chan error, 16)
	for g := 0; g < 16; g++ {
		rg.Add(1)
		go func(g int) {
			defer rg.Done()
			b := make([]byte, 1)
			for i := g; i < flood; i += 16 {
				c := clients[i]
				if c == nil {
					continue // reset while dialing, counted in dialReset
				}
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, err := c.Read(b)
				switch {
				case err == nil && b[0] == recordTypeHandshake:
					gotFlight.Add(1)
				case err != nil && (isReset(err) || err == io.EOF):
					gotReset.Add(1)
				default:
					readErr <- fmt.Errorf("flood client %d: %v (first byte %d)", i, err, b[0])
					return
				}
			}
		}(g)
	}
	rg.Wait()
	close(readErr)
	for err := range readErr {
		t.Fatal(err)
	}
	if gotFlight.Load() != int64(maxHS) || gotReset.Load()+dialReset.Load() != int64(refused) {
		t.Fatalf("clients got %d server flights and %d resets (%d while dialing), want %d and %d",
			gotFlight.Load(), gotReset.Load()+dialReset.Load(), dialReset.Load(), maxHS, refused)
	}

	// Memory: bounded by the handshakes in flight (a goroutine, its
	// stack and crypto/tls's state each), not by the flood; the figure
	// includes this process's flood clients.
	grown := liveMem() - baseMem
	t.Logf("flood %d: %d refused, %d in flight; live heap and stacks grew %d KiB (%.1f KiB per in-flight handshake, clients included)",
		flood, refused, maxHS, grown>>10, float64(grown)/1024/float64(maxHS))
	if limit := int64(maxHS)*64<<10 + int64(flood)*4<<10; grown > limit {
		t.Fatalf("live memory grew %d KiB during the flood, over %d KiB (64 KiB per handshake in flight, 4 KiB per connection)", grown>>10, limit>>10)
	}

	// The established connections kept echoing through it all.
	before := make([]int64, len(est))
	for i, ec := range est {
		before[i] = ec.rounds.Load()
	}
	if !waitFor(30*time.Second, func() bool {
		for i, ec := range est {
			if ec.rounds.Load() <= before[i] {
				return false
			}
		}
		return true
	}) {
		t.Fatal("an established connection stopped echoing during the flood")
	}
	if err := stopEcho(); err != nil {
		t.Fatalf("an established connection during the flood: %v", err)
	}

	// The flood ends: its in-flight handshakes fail on the clients' EOF,
	// and the engine serves new connections.
	for i, c := range clients {
		if c != nil {
			c.Close()
		}
		clients[i] = nil
	}
	if !waitFor(60*time.Second, func() bool { return e.tlsInFlight.Load() == 0 }) {
		t.Fatalf("%d handshakes still in flight after their clients left", e.tlsInFlight.Load())
	}
	if !waitFor(10*time.Second, func() bool { return h.failed.Load() == int64(maxHS) }) {
		t.Fatalf("OnHandshakeFail saw %d failures besides refusals, want %d", h.failed.Load(), maxHS)
	}
	healthy(t, addr, pki)
	for _, ec := range est {
		if got, err := roundTrip(ec.conn, []byte("after"), 10*time.Second); err != nil || string(got) != "after" {
			t.Fatalf("an established connection after the flood: %q, %v", got, err)
		}
	}
}

// isReset reports a connection reset by the peer (or a broken pipe, its
// form on a write).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
