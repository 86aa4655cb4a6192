package fdcheck

import (
	"os"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func TestCheck(t *testing.T) {
	base := Baseline(t)
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if n := Count(t); n != base+1 {
		t.Fatalf("Count = %d with one more file open, want %d", n, base+1)
	}
	r := &recorder{TB: t}
	Check(r, base)
	if !r.failed {
		t.Fatal("Check did not report an fd left open")
	}
	f.Close()
	r = &recorder{TB: t}
	Check(r, base)
	if r.failed {
		t.Fatal("Check reported a leak after the file was closed")
	}
}
