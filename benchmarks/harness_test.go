package benchmarks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessQuick runs the driver's quick mode: every peer server (net,
// gnet, netpoll, nbio, shardnet and the C server c/peer.c), and net/http
// and grpc-go over net and over the net.Conn adapter, answer
// correctly under the harness's loads (echo bytes verified by `shardnet
// bench`, HTTP responses checked byte for byte, by wrk reporting no errors
// or non-2xx and by c/httpload checking every response), at saturation and
// at a fixed rate; the idle client, the proxy and kv comparisons run. No
// speed is asserted. The driver builds its binaries without the race
// detector, whatever this test runs under; tools that are not installed
// (gcc, wrk, iperf3, haproxy, redis) are skipped by the driver and said so
// in the log.
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
	if _, err := exec.LookPath("gcc"); err == nil {
		// The C server and the fixed-rate cells ran, not skipped.
		out := string(b)
		want := []string{"echo      c100 64B x16 ", "echo-rate c100 64B x16 @"}
		if hasLine(out, "http ", "") { // wrk is installed: the HTTP cells ran
			want = append(want, "http      c50 x1 ", "http-rate c256 x16 @")
		}
		cPeer := " c" + strings.Repeat(" ", 15) + " r" // the peer column as the driver prints it
		for _, w := range want {
			if !hasLine(out, w, cPeer) {
				t.Errorf("quick run has no line for the C server in %q", strings.TrimSpace(w))
			}
		}
	}
	// The standard stacks over net and over the adapter (wrk and gcc for
	// the HTTP cells, as above).
	std := []string{"nethttp-idle ", "grpc      unary 64B c4 x16 ", "grpc-rate unary 64B c4 x16 @"}
	if _, err := exec.LookPath("gcc"); err == nil && hasLine(string(b), "http ", "") {
		std = append(std, "nethttp   c256 x1 ", "nethttp-rate c256 x1 @")
	}
	for _, w := range std {
		for _, p := range []string{" net ", " shardnet "} {
			if !hasLine(string(b), w, p) {
				t.Errorf("quick run has no line for %s in %q", strings.TrimSpace(p), strings.TrimSpace(w))
			}
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(out, "RESULTS.md")), "## Targets (issue 14") {
		t.Errorf("RESULTS.md has no issue 14 targets")
	}
	for _, f := range []string{"RESULTS.md", "samples.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("quick run wrote no %s: %v", f, err)
		}
	}
}

// hasLine reports whether a line of out starts with prefix and contains sub.
func hasLine(out, prefix, sub string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
