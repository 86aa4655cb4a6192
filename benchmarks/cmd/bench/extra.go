package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The proxy suite: iperf3 through a TCP proxy pinned to CPU 0 with one
// thread, iperf3's server and client on CPU 1. HAProxy runs twice: on the
// copy path (nosplice) and as haproxy-splice (option splice-auto), the
// peer of shardnet-splice.

// proxyVariants are the proxy suite's "peers".
var proxyVariants = []string{"direct", "shardnet", "shardnet-splice", "haproxy", "haproxy-splice"}

func (d *driver) runProxy(s Sample) Sample {
	if _, err := exec.LookPath("iperf3"); err != nil {
		s.Errors, s.Note = 1, "iperf3 "+errMissing.Error()
		return s
	}
	back := d.nextAddr()
	_, backPort, _ := strings.Cut(back, ":")
	ips, err := start("iperf3-server", clientPin, []string{"iperf3", "-s", "-B", "127.0.0.1", "-p", backPort})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer ips.stop()
	if err := waitForListen(backPort, 5*time.Second); err != nil {
		s.Errors, s.Note = 1, "iperf3 -s: "+err.Error()
		return s
	}
	front, relayAddr := back, d.nextAddr()
	px, err := d.startRelay(s.Peer, relayAddr, back, haproxyOpts{maxconn: 4096})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	if px != nil {
		defer px.stop()
		front = relayAddr
	}
	_, frontPort, _ := strings.Cut(front, ":")
	secs := max(1, int(d.duration.Round(time.Second)/time.Second))
	cl, err := start("iperf3-client", clientPin, []string{"iperf3", "-c", "127.0.0.1", "-p", frontPort, "-t", strconv.Itoa(secs), "-J"})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	var w window
	if px != nil {
		saved := d.duration
		d.duration = time.Duration(secs) * time.Second
		w, _ = d.sampleWindow(px, cl, "", 0, false)
		d.duration = saved
	}
	cl.wait(time.Duration(secs)*time.Second + 20*time.Second)
	raw := cl.output()
	var parts []string
	parts = append(parts, "# client", raw, "# iperf3 server", ips.output())
	if px != nil {
		px.stop()
		parts = append(parts, "# proxy", px.output(), w.describe())
	}
	d.saveRaw(&s, parts...)
	var res struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	i := strings.Index(raw, "{")
	if i < 0 || json.Unmarshal([]byte(raw[i:strings.LastIndex(raw, "}")+1]), &res) != nil {
		s.Errors, s.Note = 1, "iperf3 output: "+lastLines(raw, 3)
		return s
	}
	if res.Error != "" {
		s.Errors, s.Note = 1, res.Error
		return s
	}
	s.Rate = res.End.SumReceived.BitsPerSecond / 1e9
	if px != nil && w.seconds > 0 {
		s.ServerCPUPct = 100 * w.serverCPU / w.seconds
		s.ClientCPUPct = 100 * w.clientCPU / w.seconds
		// CPU per KiB relayed, in ns: the proxy's own and its core's.
		kibPerSec := res.End.SumReceived.BitsPerSecond / 8 / 1024
		s.fill(w, kibPerSec, true)
	}
	return s
}

// waitForListen waits until a local TCP port is in the LISTEN state, from
// /proc/net/tcp and without connecting: a probe connection through a proxy
// would reach iperf3's server as a client that never speaks.
func waitForListen(port string, d time.Duration) error {
	pn, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	want := fmt.Sprintf(":%04X ", pn)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/net/tcp")
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			// f[1] is the local address, f[3] the state (0A: LISTEN).
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && f[3] == "0A" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on port %s after %v", port, d)
}

// The kv suite: redis-benchmark against `shardnet kv -shards 1` and
// redis-server, each pinned to CPU 0 (redis-server with its one main
// thread), redis-benchmark on CPU 1.

var kvServers = []string{"shardnet", "redis"}

// kvSpec is one redis-benchmark load.
type kvSpec struct{ conns, pipeline int }

func (d *driver) runKV(s Sample, spec kvSpec) []Sample {
	for _, tool := range []string{"redis-benchmark", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			s.Errors, s.Note = 1, tool+" "+errMissing.Error()
			return []Sample{s}
		}
	}
	addr := d.nextAddr()
	_, port, _ := strings.Cut(addr, ":")
	var srv *proc
	var err error
	if s.Peer != "redis" { // shardnet or an extra build
		srv, err = start(s.Peer+"-kv", serverPin, []string{d.cliPath(s.Peer), "kv", "-addr", addr, "-shards", "1"})
	} else {
		srv, err = start("redis-server", serverPin, []string{"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"})
	}
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return []Sample{s}
	}
	defer srv.stop()
	if err := waitPort(addr, 5*time.Second, srv); err != nil {
		s.Errors, s.Note = 1, err.Error()
		return []Sample{s}
	}
	// About d.duration per test at the rate each pipeline depth reaches here.
	perSec := 80000
	if spec.pipeline > 1 {
		perSec = 600000
	}
	n := max(10000, int(float64(perSec)*d.duration.Seconds()))
	if d.quick {
		n = 10000
	}
	cl, err := start("redis-benchmark", clientPin, []string{"redis-benchmark", "-h", "127.0.0.1", "-p", port,
		"-t", "set,get", "-n", strconv.Itoa(n), "-c", strconv.Itoa(spec.conns), "-P", strconv.Itoa(spec.pipeline), "-r", "100000", "--csv"})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return []Sample{s}
	}
	a := takeSnapshot(srv, nil, false)
	cl.wait(5*d.duration + 60*time.Second)
	b := takeSnapshot(srv, nil, false)
	srv.stop()
	raw := cl.output()
	d.saveRaw(&s, "# client", raw, "# server", srv.output())
	w := between(a, b)
	var out []Sample
	recs, _ := csv.NewReader(strings.NewReader(csvPart(raw))).ReadAll()
	for _, r := range recs {
		if len(r) < 5 || (r[0] != "SET" && r[0] != "GET") {
			continue
		}
		t := s
		t.Cell = r[0] + " " + s.Cell
		t.Rate, _ = strconv.ParseFloat(r[1], 64)
		if v, err := strconv.ParseFloat(r[4], 64); err == nil {
			t.P50us = v * 1000
		}
		if len(r) >= 7 {
			if v, err := strconv.ParseFloat(r[6], 64); err == nil {
				t.P99us = v * 1000
			}
		}
		out = append(out, t)
	}
	if len(out) != 2 {
		s.Errors, s.Note = 1, "redis-benchmark output: "+lastLines(raw, 3)
		return []Sample{s}
	}
	// The server's CPU over both tests, shared by their operations.
	if w.seconds > 0 {
		ops := float64(n) * 2
		for i := range out {
			out[i].ServerCPUPct = 100 * w.serverCPU / w.seconds
			out[i].ServerCPUPerMsgNs = 1e9 * w.serverCPU / ops
		}
	}
	return out
}

// csvPart keeps the lines of redis-benchmark's output that are CSV rows
// (it may print progress with carriage returns on a terminal).
func csvPart(raw string) string {
	var b strings.Builder
	for _, l := range strings.Split(raw, "\n") {
		if i := strings.LastIndex(l, "\r"); i >= 0 {
			l = l[i+1:]
		}
		if strings.HasPrefix(l, `"`) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
