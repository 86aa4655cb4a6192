//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// soakCounters are one client process's totals; its connection goroutines
// add, the reporter reads.
type soakCounters struct {
	live, opened, closed, bytes, mismatches, errors atomic.Int64
	// refused counts connections the server closed before their first
	// answer: shed at its connection or fd limit, not a failure mid-stream.
	refused atomic.Int64
	lastErr atomic.Value // string
}

// runSoakClient is the hidden "soak-client" command that runSoak starts: it
// holds -conns connections from source address -src, exchanges verified
// messages on the busy ones, idles on the rest, closes and reopens each
// after a random lifetime, and prints a JSON report every second.
func runSoakClient(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("soak-client", "One load process of shardnet soak (started by it).", "  (started by shardnet soak)\n", stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "server address")
	src := fs.String("src", "127.0.0.2", "source address to connect from")
	conns := fs.Int("conns", 100, "connections to hold")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	busy := fs.Float64("busy", 0.3, "share of busy connections")
	lifetime := fs.Duration("lifetime", 10*time.Second, "mean connection lifetime")
	maxSize := fs.Int("maxsize", 32<<10, "largest message")
	id := fs.Int("id", 0, "client number, seeds the randomness")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var c soakCounters
	report := func(done bool) {
		r := soakReport{Client: *id, Live: int(c.live.Load()), Opened: uint64(c.opened.Load()), Closed: uint64(c.closed.Load()),
			Bytes: uint64(c.bytes.Load()), Mismatches: uint64(c.mismatches.Load()), Errors: uint64(c.errors.Load()),
			Refused: uint64(c.refused.Load()), Done: done}
		if s, ok := c.lastErr.Load().(string); ok {
			r.LastError = s
		}
		json.NewEncoder(stdout).Encode(r)
	}
	stopReports := make(chan struct{})
	reportsDone := make(chan struct{})
	go func() {
		defer close(reportsDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report(false)
			case <-stopReports:
				return
			}
		}
	}()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(*src)}, Timeout: 10 * time.Second}
	// Ramp up over a few seconds so the server's accept backlog is not
	// flooded with thousands of SYNs at once.
	ramp := min(*duration/5, 5*time.Second)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(*id), uint64(i)))
			delay := time.Duration(0)
			if *conns > 1 {
				delay = ramp * time.Duration(i) / time.Duration(*conns)
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			soakConn(ctx, dialer, *addr, rng, *busy, *lifetime, *maxSize, &c)
		}(i)
	}
	wg.Wait()
	close(stopReports)
	<-reportsDone
	report(true)
	if c.mismatches.Load() > 0 {
		return 1
	}
	return 0
}

// soakConn runs one connection slot until ctx ends: connect, exchange or
// idle for a random lifetime, close, and again.
func soakConn(ctx context.Context, d *net.Dialer, addr string, rng *rand.Rand, busyShare float64, lifetime time.Duration, maxSize int, c *soakCounters) {
	wbuf := make([]byte, maxSize)
	rbuf := make([]byte, maxSize)
	fail := func(err error) {
		c.errors.Add(1)
		c.lastErr.Store(err.Error())
	}
	for ctx.Err() == nil {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
				sleepCtx(ctx, 100*time.Millisecond+time.Duration(rng.IntN(400))*time.Millisecond)
			}
			continue
		}
		c.opened.Add(1)
		c.live.Add(1)
		busy := rng.Float64() < busyShare
		exchanged := false
		failIO := func(err error) {
			if !exchanged && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				c.refused.Add(1)
				return
			}
			fail(err)
		}
		until := time.Now().Add(time.Duration(rng.ExpFloat64() * float64(lifetime)))
		for ctx.Err() == nil && time.Now().Before(until) {
			size := 1 + rng.IntN(64)
			if busy {
				size = 1 + rng.IntN(maxSize)
			} else if !sleepCtx(ctx, time.Duration(500+rng.IntN(1500))*time.Millisecond) {
				break
			}
			msg := wbuf[:size]
			seed := byte(rng.Uint32())
			for j := range msg {
				msg[j] = seed + byte(j*7)
			}
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := nc.Write(msg); err != nil {
				failIO(err)
				break
			}
			got := rbuf[:size]
			if _, err := io.ReadFull(nc, got); err != nil {
				failIO(err)
				break
			}
			exchanged = true
			if !bytes.Equal(got, msg) {
				bad := 0
				for j := range got {
					if got[j] != msg[j] {
						bad++
					}
				}
				c.mismatches.Add(int64(bad))
			}
			c.bytes.Add(int64(size))
		}
		nc.Close()
		c.live.Add(-1)
		c.closed.Add(1)
	}
}

// sleepCtx sleeps for d or until ctx ends, and reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
