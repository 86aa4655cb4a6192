package netpollconn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/internal/blocking"
)

// echoFrame is a length-prefixed codec written only against netpoll's
// interfaces, the way an RPC framework's codec for netpoll is: a 4-byte
// big-endian length, then the body; the answer is the same frame.
func echoFrame(r netpoll.Reader, w netpoll.Writer) error {
	hdr, err := r.Next(4)
	if err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(hdr))
	body, err := r.Next(n)
	if err != nil {
		return err
	}
	out, err := w.Malloc(4)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(out, uint32(n))
	if _, err := w.WriteBinary(body); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return r.Release()
}

func startServer(t *testing.T, on OnRequest) (*engine.Engine, string) {
	t.Helper()
	e, err := engine.New(NewHandler(on), engine.WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e, addr.String()
}

func TestLengthPrefixedCodecOverLiveConnections(t *testing.T) {
	codec := func(ctx context.Context, c *Conn) error { return echoFrame(c.Reader(), c.Writer()) }
	_, addr := startServer(t, codec)

	const conns, inFlight, rounds = 16, 32, 4
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			errs <- exchange(addr, seed, inFlight, rounds)
		}(uint64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// exchange sends inFlight frames of random sizes before reading any answer,
// rounds times, and checks every answer byte for byte and in order.
func exchange(addr string, seed uint64, inFlight, rounds int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	rng := rand.New(rand.NewPCG(seed, 7))
	for r := 0; r < rounds; r++ {
		var sent [][]byte
		var wire bytes.Buffer
		for i := 0; i < inFlight; i++ {
			body := make([]byte, rng.IntN(20000))
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
			wire.Write(hdr[:])
			wire.Write(body)
			sent = append(sent, body)
		}
		werr := make(chan error, 1)
		go func() { _, err := nc.Write(wire.Bytes()); werr <- err }()
		for i, want := range sent {
			var hdr [4]byte
			if _, err := io.ReadFull(nc, hdr[:]); err != nil {
				return err
			}
			got := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(nc, got); err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return errors.New("frame " + string(rune('0'+i%10)) + " differs")
			}
		}
		if err := <-werr; err != nil {
			return err
		}
	}
	return nil
}

func TestReadTimeoutAndEOF(t *testing.T) {
	got := make(chan error, 2)
	_, addr := startServer(t, func(ctx context.Context, c *Conn) error {
		c.SetReadTimeout(150 * time.Millisecond)
		_, err := c.Next(100) // only 3 bytes will come
		got <- err
		return err
	})
	nc := dialT(t, addr)
	start := time.Now()
	nc.Write([]byte("abc"))
	select {
	case err := <-got:
		if !errors.Is(err, netpoll.ErrReadTimeout) {
			t.Fatalf("want netpoll.ErrReadTimeout, got %v", err)
		}
		if time.Since(start) < 150*time.Millisecond {
			t.Fatal("read timed out early")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked read never timed out")
	}
	// The codec's error closed the connection: the client sees EOF.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("want EOF after the codec failed, got %v", err)
	}
}

func TestBlockedReadEndsWhenPeerHalfCloses(t *testing.T) {
	got := make(chan error, 1)
	_, addr := startServer(t, func(ctx context.Context, c *Conn) error {
		_, err := c.Next(10)
		got <- err
		return err
	})
	nc := dialT(t, addr)
	nc.Write([]byte("abc"))
	time.Sleep(50 * time.Millisecond)
	nc.(*net.TCPConn).CloseWrite()
	select {
	case err := <-got:
		if !errors.Is(err, netpoll.ErrEOF) {
			t.Fatalf("want netpoll.ErrEOF, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked read did not end at EOF")
	}
}

// writerOps drives a netpoll.Writer through a script; run on a real
// netpoll.LinkBuffer it is the model our Conn must match. netpoll does not
// define WriteDirect mixed with WriteBinary or WriteString, so direct
// scripts use only Malloc and WriteDirect.
func writerOps(w netpoll.Writer, seed uint64, direct bool) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 40; i++ {
		op := rng.IntN(4)
		if direct {
			op = []int{0, 4}[rng.IntN(2)]
		}
		switch op {
		case 0:
			n := rng.IntN(3000)
			b, err := w.Malloc(n)
			if err != nil {
				return err
			}
			for j := range b {
				b[j] = byte(i + j)
			}
		case 1:
			w.WriteBinary(bytes.Repeat([]byte{byte('a' + i%26)}, rng.IntN(100)))
		case 2:
			w.WriteString("str")
			w.WriteByte(byte(i))
		case 3:
			if m := w.MallocLen(); m > 0 {
				if err := w.MallocAck(rng.IntN(m + 1)); err != nil {
					return err
				}
			}
		case 4:
			// Malloc'd memory is not zeroed (pooled here, and in
			// netpoll too): fill all of it.
			b, _ := w.Malloc(64)
			copy(b, bytes.Repeat([]byte("tail-of-malloc."), 5))
			if err := w.WriteDirect(bytes.Repeat([]byte{'D'}, 1+rng.IntN(5000)), rng.IntN(65)); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestWriterMatchesNetpollLinkBuffer(t *testing.T) {
	pool := buffer.NewPool()
	for _, direct := range []bool{false, true} {
		for seed := uint64(0); seed < 200; seed++ {
			lb := netpoll.NewLinkBuffer()
			if err := writerOps(lb, seed, direct); err != nil {
				t.Fatalf("seed %d: model: %v", seed, err)
			}
			wantLen := lb.MallocLen()
			lb.Flush()
			want, _ := lb.Next(lb.Len())

			c := &Conn{pool: pool, tailPiece: -1}
			if err := writerOps(c, seed, direct); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			got := bytes.Join(c.pieces, nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("direct=%v seed %d: %d bytes, model %d; first difference at %d", direct, seed, len(got), len(want), firstDiff(got, want))
			}
			if c.MallocLen() != wantLen {
				t.Fatalf("direct=%v seed %d: MallocLen %d, model %d", direct, seed, c.MallocLen(), wantLen)
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// loopFrames serves echoFrame on the shard itself through NewLoopConn: it
// runs the codec only when a whole frame is there, so reads never block.
type loopFrames struct {
	engine.BaseHandler
	pool *buffer.Pool
}

func (h *loopFrames) OnOpen(ec *engine.Conn) error {
	ec.SetContext(NewLoopConn(ec, h.pool))
	return nil
}

func (h *loopFrames) OnTraffic(ec *engine.Conn) {
	c := ec.Context().(*Conn)
	c.Feed()
	for c.Len() >= 4 {
		hdr, _ := c.Peek(4)
		if c.Len() < 4+int(binary.BigEndian.Uint32(hdr)) {
			return
		}
		if err := echoFrame(c, c); err != nil {
			ec.Abort()
			return
		}
	}
}

func TestLoopConnServesTheSameCodec(t *testing.T) {
	e, err := engine.New(&loopFrames{pool: buffer.NewPool()}, engine.WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := exchange(addr.String(), uint64(i), 32, 3); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoopConnReadsDoNotBlock(t *testing.T) {
	pool := buffer.NewPool()
	c := &Conn{pool: pool, tailPiece: -1, gate: blocking.NewGate()}
	c.in.Init(pool, blockSize)
	c.in.Write([]byte("abc"))
	if _, err := c.Next(4); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Next past the buffered bytes: want ErrWouldBlock, got %v", err)
	}
	if b, err := c.Next(3); err != nil || string(b) != "abc" {
		t.Fatalf("Next(3) = %q, %v", b, err)
	}
	c.in.Write([]byte("xy"))
	if _, err := c.Until('\n'); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Until without the delimiter: want ErrWouldBlock, got %v", err)
	}
	if c.Len() != 2 {
		t.Fatalf("Until that would block consumed bytes: %d left, want 2", c.Len())
	}
	c.in.Write([]byte("z\n"))
	if b, err := c.Until('\n'); err != nil || string(b) != "xyz\n" {
		t.Fatalf("Until = %q, %v; want \"xyz\\n\"", b, err)
	}
	c.Release()
	if pool.Outstanding() != 0 {
		t.Fatalf("%d pool bytes outstanding after Release", pool.Outstanding())
	}
}

// dialT connects to addr and closes the connection when the test ends.
func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
