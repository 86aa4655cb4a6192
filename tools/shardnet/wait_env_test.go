package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWaitOptions(t *testing.T) {
	for _, tc := range []struct {
		env     string
		n       int
		wantErr bool
	}{
		{"", 0, false},
		{"syscall", 0, false},
		{"runtime", 1, false},
		{"runtime-pinned", 2, false},
		{"Runtime", 0, true},
		{"epoll", 0, true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(waitEnv, tc.env)
			opts, err := waitOptions()
			if (err != nil) != tc.wantErr {
				t.Fatalf("waitOptions() error %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), waitEnv) {
				t.Errorf("error %q does not name %s", err, waitEnv)
			}
			if len(opts) != tc.n {
				t.Errorf("waitOptions() gave %d options, want %d", len(opts), tc.n)
			}
		})
	}
}

// TestProxyHonoursWaitEnv checks that the proxy command takes its wait mode
// from SHARDNET_WAIT like the other server commands (the benchmark driver
// measures one proxy binary both ways through it): a bad value stops it
// before it listens.
func TestProxyHonoursWaitEnv(t *testing.T) {
	t.Setenv(waitEnv, "bogus")
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
		t.Fatalf("runProxy with %s=bogus is still running after 10 s: the variable is ignored", waitEnv)
	}
	if code != 2 {
		t.Fatalf("runProxy exit code %d, want 2; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), waitEnv) {
		t.Errorf("stderr %q does not name %s", stderr.String(), waitEnv)
	}
}
