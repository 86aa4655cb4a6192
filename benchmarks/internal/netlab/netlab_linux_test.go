package netlab

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildShardnet builds the shardnet command (with the race detector when
// the test has it) into a temporary directory.
func buildShardnet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shardnet")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	// From the root module, whose go.sum has the command's dependencies.
	cmd := exec.Command("go", append(args, "./tools/shardnet")...)
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shardnet: %v\n%s", err, out)
	}
	return bin
}

// newRig builds the lab or skips, saying why, where this machine cannot
// (no root, no namespaces, no HAProxy or iptables).
func newRig(t *testing.T) *Rig {
	t.Helper()
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skipf("wrk is not installed (.ci/run installs it): %v", err)
	}
	bin := buildShardnet(t)
	r, err := NewRig(bin)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("no network-namespace lab here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func logResult(t *testing.T, kind string, res Result) {
	t.Helper()
	t.Logf("%s / %s under %s: done %d (%.0f/s), p99 %v, max %v, failed %d (allowed %d), detect %v; %s",
		res.Scenario, kind, res.Load, res.Done, res.PerSec, res.P99, res.Max, res.Failed, res.Allowed, res.Detect, res.Note)
	if res.Err != nil {
		t.Errorf("%s / %s: %v", res.Scenario, kind, res.Err)
	}
}

// TestNetlab is the short form of the lab that CI runs (the long form is
// benchmarks/cmd/netlab), on one lab:
//
// behind-haproxy: three backends behind HAProxy; an http server killed
// under wrk (only its in-flight requests fail), an echo server stopped
// under bench (the L7 check ejects it, nothing fails), a rolling
// hand-over of the http servers under wrk and of one echo server under
// bench (nothing fails).
//
// misbehaving-network: with the client's link reordering 1 % and
// corrupting 0.1 % of packets, both ways, echo through HAProxy and
// through the shardnet proxy, and 2 MiB hashed through the proxy and
// back, lose and corrupt nothing; then with every packet dropped for 2 s,
// nothing fails (no timeout on the path is that short) and no server's
// memory grows, while an echo server with -idle 1s closes every
// connection and one with -idle 10s none, and a second shardnet proxy,
// whose clients are sent 16 MiB each from the moment the path dies,
// grows by no more than the relay's high mark per connection (plus
// slack) and then delivers every byte.
func TestNetlab(t *testing.T) {
	r := newRig(t)
	t.Run("behind-haproxy", func(t *testing.T) {
		spec := LoadSpec{Duration: 5 * time.Second, WrkConns: 12, EchoConns: 12, EchoSize: 512, EchoDepth: 2, EchoRate: 3000}
		logResult(t, "http", r.Kill("http", spec))
		logResult(t, "echo", r.Stop("echo", spec))
		logResult(t, "http", r.Restart("http", []int{1, 2, 3}, spec, false))
		logResult(t, "echo", r.Restart("echo", []int{3}, spec, false))
	})
	t.Run("misbehaving-network", func(t *testing.T) {
		proxy, err := r.StartProxy()
		if err != nil {
			t.Fatal(err)
		}
		im, err := r.Impair()
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("no packet queue here: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		spec := MisbehaveSpec{Duration: 4 * time.Second, EchoConns: 4, EchoSize: 512, EchoRate: 400, ShaBytes: 2 << 20, MemSlack: 32 << 20}
		x := Impairment{Reorder: 0.01, ReorderHold: 5 * time.Millisecond, Corrupt: 0.001}
		for _, res := range r.Misbehave(x.String(), im, x, proxy, spec) {
			logResult(t, "impaired", res)
		}
		// Long enough for TCP's retransmission back-off (0.2+0.4+0.8+1.6 s)
		// to bring the connections back within the run.
		spec.Dead, spec.Duration = 2*time.Second, 7*time.Second
		spec.QueueConns, spec.QueueBytes, spec.QueueSlack = 2, 16<<20, 8<<20
		for _, res := range r.Misbehave("loss 100% for 2s", im, Impairment{}, proxy, spec) {
			logResult(t, "impaired", res)
		}
	})
}
