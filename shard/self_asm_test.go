//go:build linux && (amd64 || arm64)

package shard

import (
	"runtime"
	"testing"
	"time"
)

// deep recurses n frames and returns curG at the bottom, so that the
// goroutine's stack has grown (and moved) by the time it is read.
func deep(n int) uintptr {
	var pad [256]byte
	if n == 0 {
		return curG() + uintptr(pad[0])
	}
	return deep(n-1) + uintptr(pad[n%len(pad)])
}

// TestCurG: curG is the goroutine's, not the thread's: the same through
// everything that may move a goroutine to another thread or its stack to
// another place, and different for another goroutine running at the same
// time.
func TestCurG(t *testing.T) {
	if !haveCurG {
		t.Fatal("haveCurG is false on a platform with curG in assembly")
	}
	g := curG()
	if g == 0 {
		t.Fatal("curG is 0")
	}
	for _, tc := range []struct {
		name string
		do   func()
	}{
		{name: "LockOSThread", do: runtime.LockOSThread},
		{name: "UnlockOSThread", do: runtime.UnlockOSThread},
		{name: "Gosched", do: runtime.Gosched},
		{name: "sleep", do: func() { time.Sleep(time.Millisecond) }},
		{name: "channel wait", do: func() {
			c := make(chan struct{})
			go func() { time.Sleep(time.Millisecond); close(c) }()
			<-c
		}},
		{name: "GC", do: runtime.GC},
		{name: "stack growth", do: func() {
			if got := deep(2000); got != g {
				t.Errorf("curG %#x at the bottom of a grown stack, want %#x", got, g)
			}
		}},
	} {
		tc.do()
		if got := curG(); got != g {
			t.Fatalf("after %s: curG %#x, want %#x", tc.name, got, g)
		}
	}
	const n = 8
	others := make(chan uintptr, n)
	hold := make(chan struct{})
	for range n {
		go func() {
			others <- curG()
			<-hold // alive until every one has answered: no g is reused
		}()
	}
	seen := map[uintptr]bool{g: true}
	for range n {
		o := <-others
		if seen[o] {
			t.Errorf("two live goroutines share curG %#x", o)
		}
		seen[o] = true
	}
	close(hold)
}
