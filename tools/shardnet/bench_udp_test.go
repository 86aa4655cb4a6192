//go:build linux

package main

import (
	bin "encoding/binary"
	"encoding/json"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var udpTotalsRe = regexp.MustCompile(`total: in=(\d+) out=(\d+) queue-drops=(\d+) rcvbuf-drops=(\d+)`)

// TestBenchUDPAgainstUDPEcho runs bench -udp against shardnet udp-echo, both
// as processes: every echo verified, and the two sides' counts agree.
func TestBenchUDPAgainstUDPEcho(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "closed loop 64 B", args: []string{"-c", "20", "-pipeline", "4", "-duration", "1s"}},
		{name: "closed loop 1200 B", args: []string{"-c", "4", "-size", "1200", "-pipeline", "16", "-duration", "1s"}},
		{name: "fixed rate", args: []string{"-c", "10", "-rate", "2000", "-duration", "1s"}},
		{name: "largest datagram", args: []string{"-c", "1", "-size", "65507", "-pipeline", "1", "-duration", "500ms"}},
		{name: "fixed rate in trains", args: []string{"-c", "10", "-rate", "4000", "-udp-train", "16", "-udp-gso=false", "-duration", "1s"}},
		{name: "no client GSO", args: []string{"-c", "4", "-pipeline", "16", "-duration", "1s", "-udp-gso=false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2")
			stdout, stderr, code := runBenchCmd(t, append([]string{"-udp", "-json", "-shards", "2", "-addr", echo.addr}, tc.args...)...)
			out := echo.stop(t)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			var res udpBenchResult
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
			}
			if res.Received == 0 || res.Errors != 0 || res.Mismatch || res.Duplicated != 0 || res.TooOld != 0 {
				t.Fatalf("result: %+v", res)
			}
			if res.Lost != res.Sent-res.Received {
				t.Fatalf("lost %d, but %d sent and %d received", res.Lost, res.Sent, res.Received)
			}
			if res.Client.DatagramsOut != res.Sent || res.Client.DatagramsIn < res.Received {
				t.Fatalf("the client engine sent %d and read %d; the bench counted %d sent, %d received",
					res.Client.DatagramsOut, res.Client.DatagramsIn, res.Sent, res.Received)
			}
			if noGSO := slices.Contains(tc.args, "-udp-gso=false"); res.Client.GSO == noGSO || noGSO && res.Client.GSOSends != 0 {
				t.Fatalf("client gso %v with %d GSO sends; args %q", res.Client.GSO, res.Client.GSOSends, tc.args)
			}
			if res.LatencyUs == nil || res.LatencyUs.P50 <= 0 || res.LatencyUs.Max < res.LatencyUs.P99 {
				t.Fatalf("latencies: %+v", res.LatencyUs)
			}
			// The server echoed what it read; the bench received at most
			// that, and the server read at most what was sent.
			m := udpTotalsRe.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no totals in the server's output:\n%s", out)
			}
			in, _ := strconv.ParseUint(m[1], 10, 64)
			outN, _ := strconv.ParseUint(m[2], 10, 64)
			if in > res.Sent || outN < res.Received {
				t.Fatalf("server in=%d out=%d; bench sent %d received %d", in, outN, res.Sent, res.Received)
			}
			if res.Rate > 0 && res.SentPerSec > 1.1*float64(res.Rate) {
				t.Fatalf("-rate %d sent %.0f/s: the schedule must not run ahead", res.Rate, res.SentPerSec)
			}
			t.Logf("%s: sent %d received %d lost %d (server rcvbuf drops %s), %.0f datagrams/s, latency %+v",
				tc.name, res.Sent, res.Received, res.Lost, m[4], res.MsgsPerSec, res.LatencyUs)
		})
	}
}

// faultyUDPEcho echoes datagrams from a net.UDPConn, except that it drops
// those whose sequence number is 3 mod 10, sends those at 5 mod 10 twice,
// and holds those at 7 mod 10 until the flow's next datagram is echoed
// (a reordering); with corruptAt > 0 it flips that byte of sequence 50. It
// counts what it did, for the test to compare with the bench's counts.
type faultyUDPEcho struct {
	conn      *net.UDPConn
	corruptAt int

	mu                                   sync.Mutex
	read, dropped, duplicated, reordered int
	held                                 map[uint32][]byte // per flow
}

func startFaultyUDPEcho(t *testing.T, corruptAt int) *faultyUDPEcho {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyUDPEcho{conn: c, corruptAt: corruptAt, held: map[uint32][]byte{}}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p := buf[:n]
			if n < udpHeaderLen {
				continue
			}
			flow := bin.BigEndian.Uint32(p)
			seq := bin.BigEndian.Uint64(p[4:])
			f.mu.Lock()
			f.read++
			if corruptAt > 0 && seq == 50 && corruptAt < n {
				p[corruptAt] ^= 0xff
			}
			switch seq % 10 {
			case 3:
				f.dropped++
			case 5:
				f.duplicated++
				c.WriteToUDPAddrPort(p, from)
				c.WriteToUDPAddrPort(p, from)
			case 7:
				f.held[flow] = append([]byte(nil), p...)
			default:
				c.WriteToUDPAddrPort(p, from)
				if h := f.held[flow]; h != nil {
					delete(f.held, flow)
					f.reordered++
					c.WriteToUDPAddrPort(h, from)
				}
			}
			f.mu.Unlock()
		}
	}()
	return f
}

// TestBenchUDPCountsLossReorderingDuplicates checks the counters against a
// server that drops, duplicates and reorders on purpose, at a fixed rate
// (open loop, so a dropped datagram does not slow the flow).
func TestBenchUDPCountsLossReorderingDuplicates(t *testing.T) {
	srv := startFaultyUDPEcho(t, 0)
	stdout, stderr, code := runBenchCmd(t, "-udp", "-json", "-addr", srv.conn.LocalAddr().String(),
		"-c", "2", "-shards", "1", "-rate", "2000", "-duration", "1s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res udpBenchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	srv.mu.Lock()
	read, dropped, dups, reordered, held := srv.read, srv.dropped, srv.duplicated, srv.reordered, len(srv.held)
	srv.mu.Unlock()
	t.Logf("server: read %d dropped %d duplicated %d reordered %d held at the end %d; bench: %+v", read, dropped, dups, reordered, held, res)
	if uint64(read) != res.Sent {
		t.Fatalf("the server read %d of %d sent: loopback lost some, the counts below cannot be exact", read, res.Sent)
	}
	if res.Lost != uint64(dropped+held) {
		t.Errorf("lost %d, want %d dropped + %d held", res.Lost, dropped, held)
	}
	if res.Reordered != uint64(reordered) {
		t.Errorf("reordered %d, want %d", res.Reordered, reordered)
	}
	// A duplicate of the last datagrams may come after the bench stopped
	// counting: at most one per flow.
	if res.Duplicated > uint64(dups) || res.Duplicated+2 < uint64(dups) {
		t.Errorf("duplicated %d, want %d (or up to 2 fewer)", res.Duplicated, dups)
	}
	if res.Errors != 0 || res.Mismatch || res.Received+res.Lost != res.Sent {
		t.Errorf("result: %+v", res)
	}
}

// TestBenchUDPCorruptPayload: a changed byte fails the run, naming it.
func TestBenchUDPCorruptPayload(t *testing.T) {
	srv := startFaultyUDPEcho(t, 40)
	stdout, stderr, code := runBenchCmd(t, "-udp", "-addr", srv.conn.LocalAddr().String(),
		"-c", "1", "-shards", "1", "-pipeline", "1", "-duration", "5s")
	if code != 1 || !strings.Contains(stdout, "MISMATCH") || !strings.Contains(stderr, "sequence 50, byte 40") {
		t.Fatalf("exit %d, want 1 with a mismatch at sequence 50 byte 40\n%s\n%s", code, stdout, stderr)
	}
}

func TestBenchUDPFlags(t *testing.T) {
	runDispatchCases(t, []string{"bench"}, []dispatchCase{
		{name: "too small for the header", args: []string{"-udp", "-size", "10"}, wantCode: 2, wantErr: "-size 10 with -udp"},
		{name: "too large", args: []string{"-udp", "-size", "65508"}, wantCode: 2, wantErr: "-size 65508 with -udp"},
		{name: "sink", args: []string{"-udp", "-mode", "sink"}, wantCode: 2, wantErr: "only echo"},
		{name: "name not number", args: []string{"-udp", "-addr", "localhost:7001"}, wantCode: 2, wantErr: "numeric ip:port"},
		{name: "train of none", args: []string{"-udp", "-udp-train", "0"}, wantCode: 2, wantErr: "-udp-train 0"},
		{name: "nothing listens", args: []string{"-udp", "-addr", "127.0.0.1:9", "-c", "1", "-duration", "300ms", "-udp-drain", "0s"}, wantCode: 1, wantErr: "connection refused"},
	})
}
