// Command peer-rpc-grpc is grpc-go's side of the RPC comparison
// (cmd/peer-rpc-compare): a unary echo service and its load generator,
// written against grpc-go's public API the way its own benchmarks are.
//
//	peer-rpc-grpc -mode server -addr 127.0.0.1:7301                 # grpc-go over net
//	peer-rpc-grpc -mode server -addr 127.0.0.1:7301 -transport netconn  # over shardnet's net.Conn adapter
//	peer-rpc-grpc -mode bench -addr 127.0.0.1:7301 -c 16 -inflight 16 -size 64 -duration 5s
//
// Messages are raw bytes through a pass-through codec, not protobuf: the
// shardnet RPC example carries bytes too, so neither side pays for a
// serialization the other skips. The bench prints the same JSON summary
// as "shardnet rpc-bench -json" (calls, calls/s, latency percentiles,
// errors), and checks every answer against its request.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/netconn"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rawCodec passes []byte messages through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "raw" }

const fullMethod = "/shardnet.bench.Echo/Call"

// echoService is the HandlerType of the hand-written service description
// (what protoc would generate for one unary method).
type echoService interface{}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "shardnet.bench.Echo",
	HandlerType: (*echoService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var b []byte
			if err := dec(&b); err != nil {
				return nil, err
			}
			return &b, nil
		},
	}},
}

func main() {
	mode := flag.String("mode", "server", "server or bench")
	addr := flag.String("addr", "127.0.0.1:7301", "address to serve or call")
	transport := flag.String("transport", "net", "server: net (Go's net.Listen) or netconn (shardnet's engine/netconn adapter, 1 shard)")
	conns := flag.Int("c", 16, "bench: connections (grpc.ClientConn)")
	inflight := flag.Int("inflight", 16, "bench: calls in flight per connection (a goroutine each)")
	size := flag.Int("size", 64, "bench: request size (the answer is the same)")
	duration := flag.Duration("duration", 5*time.Second, "bench: how long")
	rate := flag.Int("rate", 0, "bench: fixed total calls per second (0: as fast as possible)")
	flag.Parse()
	switch *mode {
	case "server":
		os.Exit(serve(*addr, *transport))
	case "bench":
		os.Exit(bench(*addr, *conns, *inflight, *size, *duration, *rate))
	}
	fmt.Fprintf(os.Stderr, "peer-rpc-grpc: -mode %q: want server or bench\n", *mode)
	os.Exit(2)
}

func serve(addr, transport string) int {
	var ln net.Listener
	var e *engine.Engine
	var err error
	switch transport {
	case "net":
		ln, err = net.Listen("tcp", addr)
	case "netconn":
		ln, e, err = netconn.Listen(addr, nil, engine.WithShards(1))
	default:
		err = fmt.Errorf("-transport %q: want net or netconn", transport)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer-rpc-grpc:", err)
		return 1
	}
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	s.RegisterService(&serviceDesc, struct{}{})
	bound := ln.Addr().String()
	if e != nil {
		bound = e.Addrs()[0].String()
	}
	fmt.Printf("peer-rpc-grpc listening on tcp://%s transport=%s\n", bound, transport)
	go s.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Stop()
	if e != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Stop(ctx)
	}
	return 0
}

// result is the summary, with rpc-bench's JSON names.
type result struct {
	Calls       uint64     `json:"calls"`
	Seconds     float64    `json:"seconds"`
	CallsPerSec float64    `json:"calls_per_sec"`
	Latency     *latencies `json:"latency_us,omitempty"`
	Errors      uint64     `json:"errors"`
	FirstError  string     `json:"first_error,omitempty"`
}

type latencies struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// maxSamples bounds the latencies kept per worker.
const maxSamples = 1 << 14

func bench(addr string, conns, inflight, size int, duration time.Duration, rate int) int {
	if size < 8 {
		size = 8
	}
	ccs := make([]*grpc.ClientConn, conns)
	for i := range ccs {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			fmt.Fprintln(os.Stderr, "peer-rpc-grpc:", err)
			return 1
		}
		defer cc.Close()
		ccs[i] = cc
	}
	// Connect every conn before the clock starts, as rpc-bench does: one
	// call each (grpc.NewClient connects lazily).
	for _, cc := range ccs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		warm := []byte("warm-up!")
		var out []byte
		err := cc.Invoke(ctx, fullMethod, &warm, &out)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "peer-rpc-grpc: connect:", err)
			return 1
		}
	}
	epoch := time.Now()
	var stop atomic.Bool
	var calls, errs atomic.Uint64
	var firstErr atomic.Value
	// -rate: the pacer sends each call's due time to a connection, call i
	// to connection i%conns, as rpc-bench's client picks its connections
	// (round-robin); one of that connection's workers takes it when free,
	// and the call is timed from when it was due. One queue for all
	// connections would let the calls clump: workers queue again in the
	// order their answers came back, which is one connection's at a time,
	// so each burst of due calls went out on few connections, several per
	// write, and the server read 2 calls per read and wrote 4 answers per
	// write at 10k calls/s, where rpc-bench's load arrives one call per
	// read (measured with perf stat on the servers' syscalls). The two
	// servers must get the same arrival pattern for their CPU per call to
	// compare.
	var due []chan int64
	if rate > 0 {
		due = make([]chan int64, conns)
		for i := range due {
			due[i] = make(chan int64, 1<<12)
		}
		go func() {
			perNs := float64(rate) / 1e9
			var issued uint64
			for !stop.Load() {
				n := uint64(float64(time.Since(epoch)) * perNs)
				for ; issued < n; issued++ {
					select {
					case due[issued%uint64(conns)] <- int64(float64(issued) / perNs):
					default: // every worker of the connection busy and its queue full: the server is far behind
					}
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	ramp := make([]byte, 256+size) // ramp[k] = byte(k); read only
	for k := range ramp {
		ramp[k] = byte(k)
	}
	samples := make([][]int64, conns*inflight)
	var wg sync.WaitGroup
	for w := range conns * inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := ccs[w%conns]
			req := make([]byte, size)
			var resp []byte
			lat := make([]int64, 0, maxSamples)
			defer func() { samples[w] = lat }()
			for seq := uint64(1); !stop.Load(); seq++ {
				start := int64(time.Since(epoch))
				if due != nil {
					select {
					case start = <-due[w%conns]:
					case <-time.After(50 * time.Millisecond):
						continue
					}
				}
				binary.BigEndian.PutUint64(req, seq)
				binary.BigEndian.PutUint32(req[size-4:], uint32(w))
				// req[j] = byte(seq)+byte(j), copied from the ramp
				// (as rpc-bench fills its requests).
				copy(req[8:size-4], ramp[int(byte(seq))+8:])
				err := cc.Invoke(context.Background(), fullMethod, &req, &resp)
				if err == nil && string(resp) != string(req) {
					err = errors.New("answer does not match the request")
				}
				if stop.Load() {
					return
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				calls.Add(1)
				if len(lat) < maxSamples {
					lat = append(lat, int64(time.Since(epoch))-start)
				}
			}
		}()
	}
	time.Sleep(duration)
	n := calls.Load()
	elapsed := time.Since(epoch)
	stop.Store(true)
	wg.Wait()
	var all []int64
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	res := result{Calls: n, Seconds: elapsed.Seconds(), CallsPerSec: float64(n) / elapsed.Seconds(), Errors: errs.Load()}
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	if len(all) > 0 {
		q := func(p float64) float64 { return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / 1e3 }
		res.Latency = &latencies{P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: float64(all[len(all)-1]) / 1e3}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
	if res.Errors > 0 || n == 0 {
		return 1
	}
	return 0
}
