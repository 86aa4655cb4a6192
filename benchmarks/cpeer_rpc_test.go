package benchmarks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/tools/rpc"
)

// TestCPeerRPC checks the C server's RPC mode (c/rpc.c, peer c of
// cmd/peer-rpc-compare): `shardnet rpc-bench`, which checks every answer
// against its request, gets only right answers at full speed, at a fixed
// rate and with frames larger than the C server's read buffer; a call to a
// method it does not serve fails with tools/rpc's unknown-method error; a
// frame that lies about its length closes its connection and no other.
// No speed is asserted.
func TestCPeerRPC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: the C peer is not built (the drivers skip it too)")
	}
	bin := t.TempDir()
	peerC := filepath.Join(bin, "peer-c")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-o", peerC, "c/peer.c", "c/udp.c", "c/rpc.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	shardnet := filepath.Join(bin, "shardnet")
	build := exec.Command("go", "build", "-o", shardnet, "./tools/shardnet")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build shardnet: %v\n%s", err, out)
	}

	srv := exec.Command(peerC, "-mode", "rpc", "-addr", "127.0.0.1:0")
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The start-up line is read before anything else reads stdout; the
	// rest is drained until the server exits.
	line, lineErr := bufio.NewReader(io.LimitReader(stdout, 200)).ReadString('\n')
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, stdout); done <- srv.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			srv.Process.Kill()
			<-done
		}
	}()
	if lineErr != nil {
		t.Fatalf("start-up line: %v", lineErr)
	}
	m := regexp.MustCompile(`listening on tcp://(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("start-up line %q", line)
	}
	addr := m[1]

	type result struct {
		Calls       uint64  `json:"calls"`
		CallsPerSec float64 `json:"calls_per_sec"`
		Errors      uint64  `json:"errors"`
	}
	bench := func(args ...string) (result, string, error) {
		cmd := exec.Command(shardnet, append([]string{"rpc-bench", "-addr", addr, "-json", "-shards", "1"}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		runErr := cmd.Run()
		var res result
		if runErr == nil {
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				return res, errb.String(), err
			}
		}
		return res, out.String() + errb.String(), runErr
	}
	var answered uint64
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"64 B at full speed", []string{"-c", "4", "-inflight", "16", "-size", "64", "-duration", "1s"}},
		{"64 B at 2000/s", []string{"-c", "16", "-inflight", "4", "-size", "64", "-rate", "2000", "-duration", "1s"}},
		{"4 KiB", []string{"-c", "4", "-inflight", "8", "-size", "4096", "-duration", "1s"}},
		{"200 KB, frames across reads", []string{"-c", "2", "-inflight", "4", "-size", "200000", "-duration", "1s"}},
	} {
		res, out, err := bench(tc.args...)
		if err != nil || res.Errors != 0 || res.Calls == 0 {
			t.Fatalf("%s: %v, %+v\n%s", tc.name, err, res, out)
		}
		answered += res.Calls
		t.Logf("%s: %d calls verified, %.0f calls/s", tc.name, res.Calls, res.CallsPerSec)
	}
	if _, out, err := bench("-method", "offload", "-c", "1", "-inflight", "1", "-duration", "300ms"); err == nil || !strings.Contains(out, "unknown method") {
		t.Errorf("a call to method 2: err %v, want the unknown-method status\n%s", err, out)
	}

	// A connection that sends a frame whose length field is shorter than
	// a header is closed; one beside it is still answered.
	good, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	bad, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte{0, 0, 0, 3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := bad.Read(make([]byte, 64)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after a lying frame: read %d bytes, %v; want the connection closed", n, err)
	}
	req := rpc.AppendHeader(nil, rpc.Header{ID: 42, Method: 1}, 5)
	req = append(req, "hello"...)
	if _, err := good.Write(req); err != nil {
		t.Fatal(err)
	}
	good.SetReadDeadline(time.Now().Add(5 * time.Second))
	ans := make([]byte, len(req))
	if _, err := io.ReadFull(good, ans); err != nil {
		t.Fatalf("the other connection's answer: %v", err)
	}
	h, err := rpc.DecodeHeader(ans)
	if err != nil || h.ID != 42 || h.Method != 1 || h.Flags != rpc.FlagResponse || h.Status != rpc.StatusOK || string(ans[rpc.HeaderSize:]) != "hello" {
		t.Errorf("answer %+v (%v), payload %q", h, err, ans[rpc.HeaderSize:])
	}
	answered++

	srv.Process.Signal(syscall.SIGTERM)
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("peer-c after SIGTERM: %v\n%s", err, srvErr.String())
		}
	case <-time.After(10 * time.Second):
		srv.Process.Kill()
		<-done
		t.Fatal("peer-c did not stop on SIGTERM")
	}
	report := srvErr.String()
	m = regexp.MustCompile(`answered (\d+) calls \((\d+) to unknown methods\), closed (\d+) connections for bad frames`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no count line from peer-c:\n%s", report)
	}
	// rpc-bench's counts leave out the calls in flight when it stops, so
	// the server answered at least as many.
	if n, _ := strconv.ParseUint(m[1], 10, 64); n < answered || m[2] == "0" || m[3] != "1" {
		t.Errorf("peer-c counted %s calls (%s unknown, %s bad connections); the clients saw %d answers, 1 unknown call at least, 1 bad connection\n%s", m[1], m[2], m[3], answered, report)
	}
}
