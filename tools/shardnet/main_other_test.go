//go:build !linux

package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestUnsupportedPlatform(t *testing.T) {
	var stderr strings.Builder
	if code := unsupported(&stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if msg := stderr.String(); !strings.Contains(msg, "unsupported platform") || !strings.Contains(msg, runtime.GOOS) {
		t.Errorf("message = %q, want it to say unsupported platform and name %s", msg, runtime.GOOS)
	}
}
