package main

import (
	"strings"
	"testing"
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
