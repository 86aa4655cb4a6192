package engine

import (
	"slices"
	"sync"
	"testing"
)

// TestBatch: only the first add after a take asks for a post; take returns
// everything in order; close refuses later adds and returns the rest.
func TestBatch(t *testing.T) {
	var b batch[int]
	if post, ok := b.add(1); !post || !ok {
		t.Fatalf("first add: post %v ok %v, want true true", post, ok)
	}
	if post, ok := b.add(2); post || !ok {
		t.Fatalf("second add: post %v ok %v, want false true", post, ok)
	}
	got := b.take()
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("take = %v, want [1 2]", got)
	}
	b.recycle(got)
	if post, _ := b.add(3); !post {
		t.Fatal("add after take did not ask for a post")
	}
	if got := b.take(); !slices.Equal(got, []int{3}) {
		t.Fatalf("take = %v, want [3]", got)
	}
	b.add(4)
	if rest := b.close(); !slices.Equal(rest, []int{4}) {
		t.Fatalf("close = %v, want [4]", rest)
	}
	if post, ok := b.add(5); post || ok {
		t.Fatalf("add after close: post %v ok %v, want false false", post, ok)
	}
}

// TestBatchConcurrent: items added from many goroutines are each taken
// exactly once, and a post is asked for whenever items wait untaken.
func TestBatchConcurrent(t *testing.T) {
	const producers, per = 8, 2000
	var b batch[int]
	posts := make(chan struct{}, producers*per)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if post, _ := b.add(p*per + i); post {
					posts <- struct{}{}
				}
			}
		}()
	}
	seen := make([]bool, producers*per)
	taken := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := func() {
		items := b.take()
		for _, v := range items {
			if seen[v] {
				t.Fatalf("item %d taken twice", v)
			}
			seen[v] = true
		}
		taken += len(items)
		b.recycle(items)
	}
	for running := true; running; {
		select {
		case <-posts:
			drain()
		case <-done:
			running = false
		}
	}
	for len(posts) > 0 {
		<-posts
		drain()
	}
	if taken != producers*per {
		t.Fatalf("took %d items, want %d (a post went missing)", taken, producers*per)
	}
}
