//go:build linux

package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// TestSoakShort runs the soak command for a few seconds, the size CI can
// afford; the ten-minute, 19,000-connection run is documented in the README
// and run by hand.
func TestSoakShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "soak", "-duration", "4s", "-conns", "200", "-clients", "2",
		"-lifetime", "1s", "-maxsize", "8192", "-json").Output()
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, out)
	}
	var res soakResult
	found := false
	for _, line := range splitLines(string(out)) {
		if len(line) > 0 && line[0] == '{' {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("summary: %v\n%s", err, out)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no JSON summary in:\n%s", out)
	}
	if res.Mismatches != 0 || res.BytesVerified == 0 || res.Opened <= 200 || res.Opened != res.Closed {
		t.Fatalf("soak summary: %+v", res)
	}
	if res.FdsEnd > res.FdsStart || res.ServerConnsLeft != 0 {
		t.Fatalf("resources not back to baseline: %+v", res)
	}
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	return append(lines, s[start:])
}
