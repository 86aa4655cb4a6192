package engine

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// logUniform returns a size between 1 and max whose logarithm is uniform,
// so small and large messages are equally represented.
func logUniform(r *rand.Rand, max int) int {
	return int(math.Exp(r.Float64() * math.Log(float64(max))))
}

// echoMany opens conns connections to addr at once and echoes one message
// of a random size (1 B … maxSize) over each, written in random chunks
// while the echo is read; every byte must come back, in order. It returns
// the total size.
func echoMany(t *testing.T, addr string, conns, maxSize int, budget int64, timeout time.Duration) int64 {
	t.Helper()
	r := rand.New(rand.NewPCG(4, uint64(conns)))
	sizes := make([]int, conns)
	var total int64
	for i := range sizes {
		sizes[i] = max(1, logUniform(r, maxSize))
		total += int64(sizes[i])
	}
	// Scale down if the draw came out over the budget.
	for total > budget {
		total = 0
		for i := range sizes {
			sizes[i] = max(1, sizes[i]/2)
			total += int64(sizes[i])
		}
	}
	sizes[0] = maxSize // the largest size is always tried
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		ncs[i] = dialT(t, "tcp", addr)
	}
	deadline := time.Now().Add(timeout)
	var wg sync.WaitGroup
	for i, nc := range ncs {
		wg.Add(2)
		msg := make([]byte, sizes[i])
		for j := range msg {
			msg[j] = byte(j*7 + i)
		}
		nc.SetDeadline(deadline)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for rest := msg; len(rest) > 0; {
				n := min(len(rest), 1+r.IntN(256<<10))
				if _, err := nc.Write(rest[:n]); err != nil {
					t.Errorf("conn %d: write: %v", seed, err)
					return
				}
				rest = rest[n:]
			}
		}(uint64(i))
		go func(i int) {
			defer wg.Done()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(nc, got); err != nil {
				t.Errorf("conn %d: read %d bytes: %v", i, len(msg), err)
				return
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("conn %d: %d bytes came back changed", i, len(msg))
			}
		}(i)
	}
	wg.Wait()
	return total + int64(maxSize)
}

// TestEchoRandomSizes echoes messages of 1 B … 1 MiB over 1,000 concurrent
// connections (100 with -short), at most 256 MiB in all.
//
// Edge-triggered mode runs with a small read budget, so that large
// messages take the path where a connection's budget runs out with bytes
// still waiting and no new edge will come for them.
func TestEchoRandomSizes(t *testing.T) {
	tests := []struct {
		name  string
		conns int
		opts  []Option
	}{
		{name: "level-triggered", conns: 1000},
		{name: "edge-triggered", conns: 300, opts: []Option{WithEdgeTriggered(true), WithReadBufferSize(4096), WithReadBudget(8192)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conns := tc.conns
			if testing.Short() {
				conns /= 10
			}
			e, addr := startEngine(t, echoHandler{}, tc.opts...)
			start := time.Now()
			total := echoMany(t, addr, conns, 1<<20, 200<<20, 90*time.Second)
			t.Logf("%d connections, %d MiB echoed in %v", conns, total>>20, time.Since(start))
			// The shard counts bytes just after the write that sent them,
			// so a client can hold its last echo a moment before the
			// counter shows it: wait for the counts to meet (bounded).
			var in, out uint64
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				in, out = 0, 0
				for _, s := range e.Stats().Shards {
					in += s.BytesIn
					out += s.BytesOut
				}
				if in == out || time.Now().After(deadline) {
					break
				}
			}
			if in != out {
				t.Fatalf("server read %d bytes and wrote %d", in, out)
			}
		})
	}
}

// TestEchoStress10k runs 10,000 concurrent connections against a server in
// a child process (so the 20,000-fd limit holds for each side). Behind
// -engine.stress.
func TestEchoStress10k(t *testing.T) {
	if !stress() {
		t.Skip("heavy: run with -engine.stress or SHARDNET_STRESS=1")
	}
	ch := startChild(t, "echo")
	start := time.Now()
	total := echoMany(t, ch.addr, 10000, 64<<10, 1<<30, 5*time.Minute)
	fmt.Printf("stress: 10000 connections, %d MiB echoed through a child server in %v\n", total>>20, time.Since(start))
}
