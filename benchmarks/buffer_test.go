package benchmarks

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/panjf2000/gnet/v2/pkg/buffer/elastic"

	"github.com/shardnet/shardnet/buffer"
)

// The buffer benchmarks put shardnet's buffer package side by side with
// bytes.Buffer and gnet's elastic buffers (the ones gnet connections use) on
// the three hot paths of a connection. Each runs a size ladder; every size
// runs all three implementations in the same process, one after the other.
//
//	go test -run '^$' -bench 'Buffer' -benchmem -count 5 ./

// bufferSizes is the ladder the issue asks for: 64 B to 64 KiB.
var bufferSizes = []int{64, 256, 1024, 4096, 16384, 65536}

// gnetWriteCap is gnet's default WriteBufferCap: its outbound elastic buffer
// keeps up to this many bytes in a ring before it links a list.
const gnetWriteCap = 64 << 10

// BenchmarkBufferWriteConsume is the outbound path: queue a message, take the
// pending bytes as iovecs (what writev is given) and consume them all.
func BenchmarkBufferWriteConsume(b *testing.B) {
	for _, size := range bufferSizes {
		msg := bytes.Repeat([]byte{'w'}, size)
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.Run("impl=shardnet", func(b *testing.B) {
				var c buffer.Chain
				c.Init(buffer.NewPool(), 0)
				iov := make([][]byte, 0, 64)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					c.Write(msg)
					iov = c.Buffers(iov[:0], 64)
					c.Consume(c.Len(), nil)
				}
				_ = iov
			})
			b.Run("impl=gnet-elastic", func(b *testing.B) {
				eb, err := elastic.New(gnetWriteCap)
				if err != nil {
					b.Fatal(err)
				}
				defer eb.Release()
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					eb.Write(msg)
					iov, _ := eb.Peek(-1)
					_ = iov
					eb.Discard(eb.Buffered())
				}
			})
			b.Run("impl=bytes.Buffer", func(b *testing.B) {
				var bb bytes.Buffer
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					bb.Write(msg)
					p := bb.Bytes()
					bb.Next(len(p))
				}
			})
		})
	}
}

// BenchmarkBufferPeekDiscard is the inbound path: bytes arrive behind a
// partial frame the handler left unread (so the ring wraps now and then), the
// codec peeks at a whole message and discards it.
func BenchmarkBufferPeekDiscard(b *testing.B) {
	for _, size := range bufferSizes {
		msg := bytes.Repeat([]byte{'r'}, size)
		partial := msg[:size/3+1]
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.Run("impl=shardnet", func(b *testing.B) {
				var r buffer.Ring
				r.Init(buffer.NewPool(), 1<<20)
				r.Write(partial)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					r.Write(msg)
					p, err := r.Peek(size) // one contiguous slice, linearized if wrapped
					if err != nil || len(p) != size {
						b.Fatal(err)
					}
					r.Discard(size)
				}
			})
			b.Run("impl=gnet-elastic", func(b *testing.B) {
				var rb elastic.RingBuffer
				defer rb.Done()
				rb.Write(partial)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					rb.Write(msg)
					head, tail := rb.Peek(size) // two slices when wrapped: not linearized
					if len(head)+len(tail) != size {
						b.Fatal("short peek")
					}
					rb.Discard(size)
				}
			})
			b.Run("impl=bytes.Buffer", func(b *testing.B) {
				var bb bytes.Buffer
				bb.Write(partial)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					bb.Write(msg)
					if p := bb.Bytes()[:size]; len(p) != size {
						b.Fatal("short peek")
					}
					bb.Next(size)
				}
			})
		})
	}
}

// BenchmarkBufferIovecs measures only taking the iovecs of 16 queued
// messages of the given size, the call made before every writev.
func BenchmarkBufferIovecs(b *testing.B) {
	const queued = 16
	for _, size := range bufferSizes {
		msg := bytes.Repeat([]byte{'v'}, size)
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.Run("impl=shardnet", func(b *testing.B) {
				var c buffer.Chain
				c.Init(buffer.NewPool(), 0)
				defer c.Reset(nil)
				for range queued {
					c.Write(msg)
				}
				iov := make([][]byte, 0, 1024)
				b.ReportAllocs()
				b.SetBytes(int64(queued * size))
				for b.Loop() {
					iov = c.Buffers(iov[:0], 1024)
				}
				if n := totalLen(iov); n != queued*size {
					b.Fatalf("iovecs hold %d bytes, want %d", n, queued*size)
				}
			})
			b.Run("impl=gnet-elastic", func(b *testing.B) {
				eb, err := elastic.New(gnetWriteCap)
				if err != nil {
					b.Fatal(err)
				}
				defer eb.Release()
				for range queued {
					eb.Write(msg)
				}
				var iov [][]byte
				b.ReportAllocs()
				b.SetBytes(int64(queued * size))
				for b.Loop() {
					iov, _ = eb.Peek(-1)
				}
				if n := totalLen(iov); n != queued*size {
					b.Fatalf("iovecs hold %d bytes, want %d", n, queued*size)
				}
			})
			b.Run("impl=bytes.Buffer", func(b *testing.B) {
				var bb bytes.Buffer
				for range queued {
					bb.Write(msg)
				}
				var p []byte
				b.ReportAllocs()
				b.SetBytes(int64(queued * size))
				for b.Loop() {
					p = bb.Bytes() // one slice: bytes.Buffer copied every message into it
				}
				if len(p) != queued*size {
					b.Fatalf("slice holds %d bytes, want %d", len(p), queued*size)
				}
			})
		})
	}
}

func totalLen(iov [][]byte) int {
	n := 0
	for _, p := range iov {
		n += len(p)
	}
	return n
}
