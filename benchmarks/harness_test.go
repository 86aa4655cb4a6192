package benchmarks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessQuick runs the driver's quick mode: every peer server (net,
// gnet, netpoll, nbio, shardnet) answers correctly under the harness's
// loads (echo bytes verified by `shardnet bench`, HTTP responses checked
// byte for byte and wrk reporting no errors or non-2xx), the idle client,
// the proxy and kv comparisons run. No speed is asserted. The driver builds
// its binaries without the race detector, whatever this test runs under;
// tools that are not installed (wrk, iperf3, haproxy, redis) are skipped
// by the driver and said so in the log.
func TestHarnessQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every peer server for about two minutes")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./cmd/bench", "-quick", "-out", out)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	b, err := cmd.CombinedOutput()
	t.Logf("%s", b)
	if err != nil {
		t.Fatalf("quick run failed: %v", err)
	}
	if !strings.Contains(string(b), " 0 with errors") {
		t.Fatalf("quick run reported errors")
	}
	for _, f := range []string{"RESULTS.md", "samples.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("quick run wrote no %s: %v", f, err)
		}
	}
}
