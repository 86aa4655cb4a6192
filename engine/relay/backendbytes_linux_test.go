package relay

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestBackendBytes checks that each backend's byte counts take a pair's
// totals when it ends, both relay paths.
func TestBackendBytes(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.name, func(t *testing.T) {
			checkFds(t)
			be := startBackend(t, echo)
			pool := mustPool(t, []string{be.addr})
			p := startProxy(t, WithPool(pool), WithSplice(mode.splice))
			data := bytes.Repeat([]byte("abcdefgh"), 128<<10) // 1 MiB
			for i := range 2 {
				c := dial(t, p.addr)
				go func() {
					c.Write(data)
					c.CloseWrite()
				}()
				if got, err := io.ReadAll(c); err != nil || len(got) != len(data) {
					t.Fatalf("echo: %d of %d bytes, %v", len(got), len(data), err)
				}
				want := uint64((i + 1) * len(data))
				waitFor(t, 5*time.Second, "the pair's end", func() bool { return p.px.Stats().Active == 0 })
				st := pool.Stats()[0]
				if st.BytesUp != want || st.BytesDown != want {
					t.Fatalf("after %d pairs: backend up %d, down %d; want %d each", i+1, st.BytesUp, st.BytesDown, want)
				}
			}
		})
	}
}
