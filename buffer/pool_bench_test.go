package buffer

import (
	"fmt"
	"testing"
)

// BenchmarkPoolGetPut is one block round trip through the Pool, the cost a
// Chain pays per block and a Ring per empty-to-busy cycle.
func BenchmarkPoolGetPut(b *testing.B) {
	for _, size := range []int{64, 4096, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			p := NewPool()
			p.Put(p.Get(size))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				p.Put(p.Get(size))
			}
		})
	}
}

// BenchmarkPoolGetPutParallel shows how the round trip scales when every
// core's shard uses the same Pool.
func BenchmarkPoolGetPutParallel(b *testing.B) {
	p := NewPool()
	b.ReportAllocs()
	b.SetBytes(4096)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Put(p.Get(4096))
		}
	})
}

// BenchmarkPoolBoxRoundTrip is the round trip Chain and View make: the
// block stays in its bytebufferpool header, saving the header exchange that
// Get and Put do.
func BenchmarkPoolBoxRoundTrip(b *testing.B) {
	p := NewPool()
	p.putBox(p.getBox(4096))
	b.ReportAllocs()
	b.SetBytes(4096)
	for b.Loop() {
		p.putBox(p.getBox(4096))
	}
}
