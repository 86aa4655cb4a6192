package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites: writers and a reader at once (under -race), and
// every line written is there at the end.
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&b, "w%d-%d\n", w, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	got := b.String()
	for w := 0; w < 4; w++ {
		for i := 0; i < 100; i++ {
			if !strings.Contains(got, fmt.Sprintf("w%d-%d\n", w, i)) {
				t.Fatalf("line w%d-%d missing", w, i)
			}
		}
	}
	if n := strings.Count(got, "\n"); n != 400 {
		t.Fatalf("%d lines, want 400", n)
	}
}
