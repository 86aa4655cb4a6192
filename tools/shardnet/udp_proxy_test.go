//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// udpProxyLine matches the two lines of counters udp-proxy prints.
var udpProxyLine = regexp.MustCompile(`sessions=(\d+) opened=(\d+) expired=(\d+) refused=(\d+) dial-failures=(\d+) relayed: to-backend=(\d+) to-client=(\d+)\n` +
	`udp-proxy: drops=(\d+) \(queue=\d+ send-errors=\d+ refused=\d+ truncated=\d+ write-errors=\d+ late-replies=\d+\) rcvbuf-drops=(\d+) backend-errors=(\d+)`)

// udpProxyCounts are the counters of udp-proxy's last report.
type udpProxyCounts struct {
	sessions, opened, expired, refused, dialFailures, toBackend, toClient, drops, rcvbufDrops, backendErrors uint64
}

func parseUDPProxy(t *testing.T, out string) udpProxyCounts {
	t.Helper()
	all := udpProxyLine.FindAllStringSubmatch(out, -1)
	if all == nil {
		t.Fatalf("no counters in udp-proxy's output:\n%s", out)
	}
	m := all[len(all)-1]
	n := make([]uint64, len(m)-1)
	for i := range n {
		n[i], _ = strconv.ParseUint(m[i+1], 10, 64)
	}
	return udpProxyCounts{n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9]}
}

func TestUDPSessionCap(t *testing.T) {
	tests := []struct {
		asked, shards int
		nofile        uint64
		want          int
		wantErr       bool
	}{
		{asked: 0, shards: 2, nofile: 20000, want: (20000 - 64 - 8) / 2},
		{asked: 100, shards: 2, nofile: 20000, want: 100},
		{asked: 1 << 20, shards: 2, nofile: 20000, want: (20000 - 64 - 8) / 2},
		{asked: 0, shards: 1, nofile: 200, want: 200 - 64 - 4},
		{asked: 0, shards: 4, nofile: 70, wantErr: true},
	}
	for _, tc := range tests {
		got, err := udpSessionCap(tc.asked, tc.shards, tc.nofile)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("udpSessionCap(%d, %d, %d) = %d, %v; want %d (error %v)", tc.asked, tc.shards, tc.nofile, got, err, tc.want, tc.wantErr)
		}
		// Every session's backend socket, plus the reserve, fits the limit.
		if err == nil && uint64(got*tc.shards+udpProxyFdReserve+4*tc.shards) > tc.nofile {
			t.Errorf("udpSessionCap(%d, %d, %d) = %d: past the fd limit", tc.asked, tc.shards, tc.nofile, got)
		}
	}
}

// TestUDPProxyRealClients relays nc -u, socat, bench -udp and a DNS-shaped
// load (a new peer per query, Go's own DNS client) through udp-proxy, all
// as processes or real clients, and checks every answer and the counters.
func TestUDPProxyRealClients(t *testing.T) {
	echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2")
	proxy := startServer(t, "udp-proxy", "-listen", "udp://127.0.0.1:0", "-backend", echo.addr, "-shards", "2", "-idle", "5s")
	host, port := hostPort(proxy.addr)
	if got := runClient(t, "hello through the proxy\n", "nc", "-u", "-w1", host, port); got != "hello through the proxy\n" {
		t.Fatalf("nc -u: got %q", got)
	}
	if got := runClient(t, "via socat\n", "socat", "-t1", "-", "UDP:"+proxy.addr); got != "via socat\n" {
		t.Fatalf("socat: got %q", got)
	}
	stdout, stderr, code := runBenchCmd(t, "-udp", "-json", "-addr", proxy.addr, "-c", "8", "-pipeline", "4", "-shards", "2", "-duration", "1s")
	if code != 0 {
		t.Fatalf("bench -udp through the proxy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res udpBenchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Received == 0 || res.Mismatch || res.Duplicated != 0 {
		t.Fatalf("bench through the proxy: %+v", res)
	}
	out := proxy.stop(t)
	c := parseUDPProxy(t, out)
	echo.stop(t)
	// nc and socat: one datagram each way; bench: what it sent, less the
	// loss, came back.
	want := 2 + res.Sent
	if c.toBackend+c.drops+c.rcvbufDrops < want || c.toBackend > want || c.toClient < 2+res.Received {
		t.Fatalf("proxy relayed %d to the backend, %d to clients (drops %d, rcvbuf %d); want %d sent, %d answered:\n%s",
			c.toBackend, c.toClient, c.drops, c.rcvbufDrops, want, 2+res.Received, out)
	}
	if c.opened != 2+8 || c.refused != 0 || c.dialFailures != 0 || c.sessions != 0 {
		t.Fatalf("sessions: %+v, want 10 opened (nc, socat, 8 flows), none refused or left:\n%s", c, out)
	}
	t.Logf("proxy: %+v; bench through it: sent %d received %d lost %d, %.0f datagrams/s, p99 %.0fµs",
		c, res.Sent, res.Received, res.Lost, res.MsgsPerSec, res.LatencyUs.P99)
}

// TestUDPProxySocketBuffers: -rcvbuf and -sndbuf reach the listening
// socket of every shard and the backend socket a session opens, and the
// relay works through them.
func TestUDPProxySocketBuffers(t *testing.T) {
	const rcv, snd = 1 << 20, 512 << 10
	echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "1")
	proxy := startServer(t, "udp-proxy", "-listen", "udp://127.0.0.1:0", "-backend", echo.addr, "-shards", "2", "-idle", "30s",
		"-rcvbuf", strconv.Itoa(rcv), "-sndbuf", strconv.Itoa(snd))
	host, port := hostPort(proxy.addr)
	if got := runClient(t, "buffered both ways\n", "nc", "-u", "-w1", host, port); got != "buffered both ways\n" {
		t.Fatalf("nc -u: got %q", got)
	}
	wantSocketBuffers(t, "sport = :"+port, 2, rcv, snd)
	// The session (alive for -idle) holds one backend socket, connected to
	// the echo server.
	_, echoPort := hostPort(echo.addr)
	wantSocketBuffers(t, "dport = :"+echoPort, 1, rcv, snd)
	proxy.stop(t)
	echo.stop(t)
}

// TestUDPProxyDNSLoad sends DNS queries through udp-proxy to a small DNS
// responder, each from a new socket (a new peer and session), with Go's own
// stub resolver as the client; every answer must be the address the
// responder gives that name.
func TestUDPProxyDNSLoad(t *testing.T) {
	const queries, parallel = 400, 16
	dns := startDNSResponder(t)
	proxy := startServer(t, "udp-proxy", "-listen", "udp://127.0.0.1:0", "-backend", dns.String(), "-shards", "2", "-idle", "2s")
	// The kernel may give a closed socket's port to the next one: a
	// lookup from a port used before is the same peer to the proxy, so
	// the sessions are counted against the distinct client addresses.
	var peersMu sync.Mutex
	peers := map[string]bool{}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", proxy.addr)
		if err == nil {
			peersMu.Lock()
			peers[c.LocalAddr().String()] = true
			peersMu.Unlock()
		}
		return c, err
	}}
	var wg sync.WaitGroup
	errs := make(chan error, queries)
	next := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				ips, err := r.LookupNetIP(ctx, "ip4", fmt.Sprintf("host%d.shardnet.test.", i))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("query %d: %w", i, err)
					continue
				}
				if want := dnsAnswer(i); len(ips) != 1 || ips[0] != want {
					errs <- fmt.Errorf("query %d: got %v, want %v", i, ips, want)
				}
			}
		}()
	}
	for i := range queries {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	out := proxy.stop(t)
	c := parseUDPProxy(t, out)
	dns.mu.Lock()
	answered, backendPeers := dns.answered, len(dns.peers)
	dns.mu.Unlock()
	// One session, and so one backend socket, per client address; a
	// resolver retry (after a loss) is a second datagram of a session.
	if c.opened != uint64(len(peers)) || backendPeers != len(peers) || c.toBackend < queries || uint64(answered) != c.toClient || c.refused != 0 || c.drops != 0 {
		t.Fatalf("proxy counters %+v, responder answered %d from %d backend sockets; %d client addresses, %d queries; want a session each and every answer relayed:\n%s",
			c, answered, backendPeers, len(peers), queries, out)
	}
	t.Logf("%d queries from %d client addresses through the proxy: %+v", queries, len(peers), c)
}

// dnsResponder answers A queries for hostN.shardnet.test with dnsAnswer(N),
// from a net.UDPConn.
type dnsResponder struct {
	addr     netip.AddrPort
	mu       sync.Mutex
	answered int
	peers    map[netip.AddrPort]bool // who asked: the proxy's backend sockets
}

func (d *dnsResponder) String() string { return d.addr.String() }

func dnsAnswer(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 53, byte(i >> 8), byte(i)}) }

func startDNSResponder(t *testing.T) *dnsResponder {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsResponder{addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), peers: map[netip.AddrPort]bool{}}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n]); reply != nil {
				c.WriteToUDPAddrPort(reply, from)
				d.mu.Lock()
				d.answered++
				d.peers[from] = true
				d.mu.Unlock()
			}
		}
	}()
	return d
}

// dnsReply builds the answer to a one-question query (RFC 1035 §4.1), or
// nil for what it does not understand: an A record for hostN.shardnet.test,
// an empty answer for any other type of that name.
func dnsReply(q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || q[4] != 0 || q[5] != 1 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) || len(labels) != 3 || labels[1] != "shardnet" || labels[2] != "test" {
		return nil
	}
	qend := i + 5 // the zero label, type, class
	n, err := strconv.Atoi(strings.TrimPrefix(labels[0], "host"))
	if err != nil || !strings.HasPrefix(labels[0], "host") {
		return nil
	}
	r := append([]byte(nil), q[:qend]...)
	r[2] = 0x80 | q[2]&0x01 // QR, and RD copied
	r[3] = 0x80             // RA, NOERROR
	r[6], r[7], r[8], r[9], r[10], r[11] = 0, 0, 0, 0, 0, 0
	if q[i+1] == 0 && q[i+2] == 1 { // type A
		r[7] = 1
		ip := dnsAnswer(n).As4()
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ip[0], ip[1], ip[2], ip[3])
	}
	return r
}

// TestUDPProxySessionCap: past -sessions new clients are refused and
// counted while the admitted ones keep working; sessions expire after
// -idle and then make room.
func TestUDPProxySessionCap(t *testing.T) {
	echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "1")
	proxy := startServer(t, "udp-proxy", "-listen", "udp://127.0.0.1:0", "-backend", echo.addr, "-shards", "1", "-sessions", "3", "-idle", "1s")
	if !strings.Contains(proxy.line, "sessions=3 per shard") {
		t.Fatalf("start-up line %q", proxy.line)
	}
	ask := func(c net.Conn, msg string, wait time.Duration) (string, error) {
		c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	var clients []net.Conn
	for range 5 {
		c, err := net.Dial("udp", proxy.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	for i, c := range clients[:3] {
		if got, err := ask(c, fmt.Sprint("client ", i), 5*time.Second); err != nil || got != fmt.Sprint("client ", i) {
			t.Fatalf("client %d: %q, %v", i, got, err)
		}
	}
	for i, c := range clients[3:] {
		if got, err := ask(c, "refused?", 150*time.Millisecond); err == nil {
			t.Fatalf("client %d past the cap got an answer %q", 3+i, got)
		}
	}
	// The admitted ones still work while the cap holds.
	if got, err := ask(clients[0], "still here", 5*time.Second); err != nil || got != "still here" {
		t.Fatalf("client 0 after the refusals: %q, %v", got, err)
	}
	// After -idle without a datagram the sessions expire: a refused
	// client now gets one.
	time.Sleep(2500 * time.Millisecond)
	if got, err := ask(clients[4], "now there is room", 5*time.Second); err != nil || got != "now there is room" {
		t.Fatalf("client 4 after the expiry: %q, %v", got, err)
	}
	c := parseUDPProxy(t, proxy.stop(t))
	echo.stop(t)
	if c.opened != 4 || c.expired != 3 || c.refused != 2 || c.drops != 2 || c.dialFailures != 0 {
		t.Fatalf("counters %+v: want 4 opened, 3 expired, 2 refused (and so dropped)", c)
	}
}

// TestUDPProxyFdLimit runs udp-proxy under a 200-file limit and sends from
// 300 peers: the cap comes from the limit, so the proxy refuses the peers
// past it and never runs out of descriptors (no dial failure).
func TestUDPProxyFdLimit(t *testing.T) {
	echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "1")
	cmd := exec.Command("sh", "-c", `ulimit -n 200 && exec "$0" "$@"`, binary,
		"udp-proxy", "-listen", "udp://127.0.0.1:0", "-backend", echo.addr, "-shards", "2", "-sessions", "100000")
	proxy := startCmd(t, cmd)
	perShard := (200 - udpProxyFdReserve - 8) / 2
	if !strings.Contains(proxy.line, fmt.Sprintf("sessions=%d per shard (fd limit 200", perShard)) {
		t.Fatalf("start-up line %q, want the cap %d from the fd limit", proxy.line, perShard)
	}
	const peers = 300
	conns := make([]net.Conn, peers)
	for i := range conns {
		c, err := net.Dial("udp", proxy.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		if _, err := c.Write([]byte(fmt.Sprint("peer ", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Each peer waits for its answer on a goroutine of its own: a refused
	// peer waits out the deadline, which must not cut the others' reads.
	var answeredN atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			switch {
			case err == nil && string(buf[:n]) == fmt.Sprint("peer ", i):
				answeredN.Add(1)
			case err == nil:
				t.Errorf("peer %d got %q", i, buf[:n])
			case !errors.Is(err, os.ErrDeadlineExceeded):
				t.Errorf("peer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	answered := answeredN.Load()
	c := parseUDPProxy(t, proxy.stop(t))
	echo.stop(t)
	// The kernel spreads peers over the two shards by hash, so each
	// shard's cap is reached at a different count: between one cap and
	// both caps are admitted, all of those are answered, and the rest are
	// refused.
	if c.dialFailures != 0 || c.opened+c.refused != peers || c.opened > uint64(2*perShard) || c.opened < uint64(perShard) || uint64(answered) != c.opened {
		t.Fatalf("counters %+v, %d answered of %d peers; cap %d per shard", c, answered, peers, perShard)
	}
	t.Logf("fd limit 200: %d sessions admitted, %d refused, no dial failure", c.opened, c.refused)
}

func TestUDPProxyFlags(t *testing.T) {
	runDispatchCases(t, []string{"udp-proxy"}, []dispatchCase{
		{name: "help shows examples", args: []string{"-help"}, wantCode: 0, wantErr: "nc -u"},
		{name: "no backend", args: []string{}, wantCode: 2, wantErr: "-backend is required"},
		{name: "backend by name", args: []string{"-backend", "localhost:53"}, wantCode: 2, wantErr: "numeric ip:port"},
		{name: "two listen", args: []string{"-backend", "127.0.0.1:53", "-listen", "udp://127.0.0.1:0,udp://127.0.0.1:0"}, wantCode: 2, wantErr: "one -listen"},
		{name: "bad idle", args: []string{"-backend", "127.0.0.1:53", "-idle", "0s"}, wantCode: 2, wantErr: "-idle"},
		{name: "tcp listen", args: []string{"-backend", "127.0.0.1:53", "-listen", "tcp://127.0.0.1:0"}, wantCode: 1, wantErr: "unknown network"},
		{name: "negative sndbuf", args: []string{"-backend", "127.0.0.1:53", "-listen", "udp://127.0.0.1:0", "-sndbuf", "-1"}, wantCode: 2, wantErr: "WithSocketBuffers"},
	})
}

// udpProxyNetnsEnv marks the test binary re-run inside a network namespace.
const udpProxyNetnsEnv = "SHARDNET_UDP_PROXY_NETNS"

// TestUDPProxyIperf3 sends iperf3 -u at a fixed rate, and then unlimited,
// through udp-proxy (iperf3's TCP control connection through shardnet
// proxy on the same port number) to an iperf3 server, and accounts for
// iperf3's loss figure: the proxy's drops plus the kernel's RcvbufErrors.
// The test runs in a network namespace of its own, so that /proc/net/snmp
// counts only its own sockets, not those of whatever else runs on the
// machine.
func TestUDPProxyIperf3(t *testing.T) {
	if os.Getenv(udpProxyNetnsEnv) != "1" {
		needTool(t, "iperf3")
		ns := fmt.Sprintf("shardnet-udpproxy-%d", os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("a network namespace is needed (root and iproute2, as .ci/run has): %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("lo up: %v: %s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestUDPProxyIperf3$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), udpProxyNetnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in the namespace:\n%s", out)
		if err != nil {
			t.Fatalf("the run in the namespace failed: %v", err)
		}
		return
	}
	for _, rate := range []string{"20M", "0"} {
		t.Run("rate "+rate, func(t *testing.T) { iperf3ThroughUDPProxy(t, rate) })
	}
}

var iperfReceiverRe = regexp.MustCompile(`(\d+)/(\d+) \([^)]*\)\s+receiver`)

func iperf3ThroughUDPProxy(t *testing.T, rate string) {
	const proxyPort, serverPort = "5301", "5302"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, "iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", serverPort)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		cancel() // iperf3 -s -1 exits after its test; this is for a failed one
		<-exited
	}()
	for !iperfListening(serverPort) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("iperf3 -s exited: %v\n%s", err, srvOut.String())
		case <-ctx.Done():
			t.Fatal("iperf3 -s did not listen")
		case <-time.After(20 * time.Millisecond):
		}
	}
	tcp := startServer(t, "proxy", "-listen", "127.0.0.1:"+proxyPort, "-backend", "127.0.0.1:"+serverPort)
	udp := startServer(t, "udp-proxy", "-listen", "udp://127.0.0.1:"+proxyPort, "-backend", "127.0.0.1:"+serverPort, "-shards", "2")
	before := rcvbufErrors(t)
	cli := exec.CommandContext(ctx, "iperf3", "-c", "127.0.0.1", "-p", proxyPort, "-u", "-b", rate, "-l", "1200", "-t", "2", "--json", "--get-server-output")
	out, err := cli.Output()
	if err != nil {
		t.Fatalf("iperf3 -c: %v\n%s", err, out)
	}
	after := rcvbufErrors(t)
	c := parseUDPProxy(t, udp.stop(t))
	tcp.stop(t)
	var res struct {
		End struct {
			Sum struct {
				Packets     uint64 `json:"packets"`
				LostPackets uint64 `json:"lost_packets"`
				OutOfOrder  uint64 `json:"out_of_order"`
			} `json:"sum"`
		} `json:"end"`
		ServerText string `json:"server_output_text"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Error != "" {
		t.Fatalf("iperf3 -c --json: %v %s\n%s", err, res.Error, out)
	}
	m := iperfReceiverRe.FindAllStringSubmatch(res.ServerText, -1)
	if m == nil {
		t.Fatalf("no receiver total in the server's output:\n%s", res.ServerText)
	}
	counted, _ := strconv.ParseUint(m[len(m)-1][2], 10, 64)
	sent, lost := res.End.Sum.Packets, res.End.Sum.LostPackets
	kernel := after - before
	// The datagrams sent after the last one the server counted are
	// neither lost nor received to iperf3; a drop among them shows in
	// the counters only.
	tail := sent - min(sent, counted)
	t.Logf("iperf3 -u -b %s: sent %d, server counted %d, lost %d, out of order %d; proxy: relayed %d, drops %d, its sockets' rcvbuf drops %d; kernel RcvbufErrors %d (tail %d)",
		rate, sent, counted, lost, res.End.Sum.OutOfOrder, c.toBackend, c.drops, c.rcvbufDrops, kernel, tail)
	if lost > c.drops+kernel || c.drops+kernel > lost+tail {
		t.Fatalf("iperf3 lost %d; proxy drops %d + kernel RcvbufErrors %d = %d, want it equal (or up to %d more, the tail the server did not count)",
			lost, c.drops, kernel, c.drops+kernel, tail)
	}
	// One datagram more than iperf3's: its connect message. Every
	// datagram the client sent was relayed (queued to the backend
	// socket), dropped, or dropped by the kernel at the proxy's socket
	// (counted there by SO_RXQ_OVFL as of the last datagram read; an
	// overflow after that is in the kernel's count only). A relayed one
	// can still be dropped later (queued when the proxy stopped, or
	// refused by the kernel), so it may be in both counts.
	if c.toBackend+c.rcvbufDrops > sent+1 || c.toBackend+c.drops+kernel < sent+1 {
		t.Fatalf("the proxy relayed %d, dropped %d, its sockets overflowed %d times; iperf3 sent %d (+1 connect)", c.toBackend, c.drops, c.rcvbufDrops, sent)
	}
	if c.opened != 1 || c.toClient != 1 {
		t.Fatalf("want one session and one datagram back (iperf3's connect reply): %+v", c)
	}
}

// iperfListening reports whether something accepts TCP on port of
// 127.0.0.1, from /proc/net/tcp rather than by connecting: iperf3 -s -1
// would take a probe connection for its one test.
func iperfListening(port string) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	p, _ := strconv.Atoi(port)
	return strings.Contains(string(b), fmt.Sprintf(":%04X 00000000:0000 0A", p))
}

// rcvbufErrors reads Udp RcvbufErrors from /proc/net/snmp (the namespace's).
func rcvbufErrors(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatal("no Udp RcvbufErrors in /proc/net/snmp")
	return 0
}
