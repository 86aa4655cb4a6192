//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/waitenv"
)

// TestProxyHonoursWaitEnv checks that the proxy command takes its wait mode
// from SHARDNET_WAIT like the other server commands (the benchmark driver
// measures one proxy binary both ways through it): a bad value stops it
// before it listens.
func TestProxyHonoursWaitEnv(t *testing.T) {
	t.Setenv(waitenv.Var, "bogus")
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runProxy([]string{"-listen", "127.0.0.1:0", "-backend", "127.0.0.1:1"}, &stdout, &stderr)
	}()
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		// A proxy that ignored the variable would be serving now; only
		// a signal stops it, so the test gives up on it.
		t.Fatalf("runProxy with %s=bogus is still running after 10 s: the variable is ignored", waitenv.Var)
	}
	if code != 2 {
		t.Fatalf("runProxy exit code %d, want 2; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), waitenv.Var) {
		t.Errorf("stderr %q does not name %s", stderr.String(), waitenv.Var)
	}
}
