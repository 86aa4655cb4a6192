// Command tlsterm measures TLS termination by a TCP proxy: a Go
// crypto/tls client streams through the proxy, which decrypts and relays
// the plaintext to a sink, for shardnet (shardnet proxy -tls) against
// HAProxy (mode tcp, bind ... ssl crt), one thread each (issue 16). Both
// serve the same ECDSA P-256 certificate, and the client offers TLS 1.3
// alone with X25519 alone; HAProxy is told to use TLS_AES_128_GCM_SHA256,
// the suite Go's server picks on a CPU with AES instructions, so both
// decrypt the same AEAD.
//
// The proxy runs on CPU 0 (GOMAXPROCS=1 for shardnet, nbthread 1 for
// HAProxy); this command, the client and the sink, on CPU 1 (it re-runs
// itself under taskset). Each round runs every proxy, in an order
// rotated from round to round, for -seconds each; after a warm-up of -warmup, a window measures
// the proxy's CPU time (utime+stime of all its threads, from /proc) and
// CPU 0's busy time (/proc/stat and the cpuidle residencies), and the
// bytes the sink received: CPU per KiB relayed is their quotient. The
// verdict compares shardnet's to HAProxy's round by round (paired), as a
// median of the per-round ratios. Every byte the client sent must reach
// the sink, or the run fails.
//
//	tlsterm -bin DIR -rounds 4 -seconds 5 > results.md
//
// DIR holds the shardnet binary (built beforehand: a measurement window
// has no compile in it). -rate paces the client (MiB/s; 0: as fast as
// it goes), for a comparison at an equal fixed rate.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
	"github.com/shardnet/shardnet/internal/tlscert"
)

const (
	proxyCPU   = 0
	clientCPU  = 1
	pinnedEnv  = "TLSTERM_PINNED"
	chunk      = 64 << 10 // the client's write size: four full records
	haproxyCS  = "TLS_AES_128_GCM_SHA256"
	warmupDflt = time.Second
)

// haproxyName is HAProxy's name in the results; every other name is a
// shardnet variant.
const haproxyName = "haproxy"

// variant is one shardnet proxy to measure: its binary's directory and
// the idle wait it runs with (SHARDNET_WAIT; empty: the binary's default).
type variant struct {
	name, dir, wait string
	flagWait        string // the proxy's -wait, if set
}

// variants is the -variant flag.
type variants []variant

func (v *variants) String() string {
	var s []string
	for _, x := range *v {
		s = append(s, x.name+"="+x.dir)
	}
	return strings.Join(s, " ")
}

// Set reads NAME=DIR[,wait=MODE].
func (v *variants) Set(s string) error {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" || name == haproxyName {
		return fmt.Errorf("variant %q: want NAME=DIR[,wait=MODE][,flag-wait=MODE] (NAME not %q)", s, haproxyName)
	}
	x := variant{name: name}
	parts := strings.Split(rest, ",")
	x.dir = parts[0]
	for _, p := range parts[1:] {
		key, mode, _ := strings.Cut(p, "=")
		if key != "wait" && key != "flag-wait" {
			return fmt.Errorf("variant %q: unknown setting %q", s, p)
		}
		if mode != "syscall" && mode != "runtime" && mode != "runtime-pinned" {
			return fmt.Errorf("variant %q: wait %q: want syscall, runtime or runtime-pinned", s, mode)
		}
		if key == "wait" {
			x.wait = mode
		} else {
			x.flagWait = mode
		}
	}
	for _, y := range *v {
		if y.name == name {
			return fmt.Errorf("variant %q named twice", name)
		}
	}
	*v = append(*v, x)
	return nil
}

func main() {
	bin := flag.String("bin", "", "directory holding the shardnet binary")
	rounds := flag.Int("rounds", 4, "paired rounds")
	seconds := flag.Float64("seconds", 5, "seconds each proxy streams per round (the window is what follows the warm-up)")
	warmup := flag.Duration("warmup", warmupDflt, "streaming before the window opens")
	rate := flag.Float64("rate", 0, "client pace in MiB/s (0: as fast as it goes)")
	port := flag.Int("port", 19500, "first port (the sink takes it, each proxy run the next)")
	var vs variants
	flag.Var(&vs, "variant", "NAME=DIR[,wait=MODE][,flag-wait=MODE]: a shardnet proxy to measure (repeatable; instead of -bin), with SHARDNET_WAIT or -wait set to MODE")
	flag.Parse()
	if len(vs) == 0 {
		if *bin == "" {
			fmt.Fprintln(os.Stderr, "tlsterm: -bin or -variant is required")
			os.Exit(2)
		}
		vs = variants{{name: "shardnet", dir: *bin}}
	}
	if os.Getenv(pinnedEnv) == "" {
		// Run again on the client's CPU, with every thread of this
		// process there.
		self, err := os.Executable()
		if err == nil {
			var ts string
			if ts, err = exec.LookPath("taskset"); err == nil {
				os.Setenv(pinnedEnv, "1")
				err = syscall.Exec(ts, append([]string{"taskset", "-c", strconv.Itoa(clientCPU), self}, os.Args[1:]...), os.Environ())
			}
		}
		fmt.Fprintln(os.Stderr, "tlsterm: cannot pin itself with taskset:", err)
		os.Exit(1)
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		fmt.Fprintln(os.Stderr, "tlsterm: haproxy is not installed")
		os.Exit(1)
	}
	if err := run(vs, *rounds, time.Duration(*seconds*float64(time.Second)), *warmup, *rate, *port); err != nil {
		fmt.Fprintln(os.Stderr, "tlsterm:", err)
		os.Exit(1)
	}
}

// result is one proxy's run in one round.
type result struct {
	proxy      string
	start      time.Time // when the proxy started
	window     float64   // seconds
	kib        float64   // KiB the sink received in the window
	proxyCPU   float64   // seconds of the proxy's CPU time in the window
	coreBusy   float64   // seconds CPU 0 was busy in the window
	clientSent int64     // bytes the client sent in all
	sinkGot    int64     // bytes the sink received in all
}

func (r result) nsPerKiB() float64     { return 1e9 * r.proxyCPU / r.kib }
func (r result) coreNsPerKiB() float64 { return 1e9 * r.coreBusy / r.kib }
func (r result) mibPerSec() float64    { return r.kib / 1024 / r.window }

func run(vs variants, rounds int, dur, warmup time.Duration, rate float64, port int) error {
	dir, err := os.MkdirTemp("", "tlsterm-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, roots, err := makePKI(dir)
	if err != nil {
		return err
	}
	sink, err := newSink("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		return err
	}
	defer sink.ln.Close()
	port++
	clientCfg := &tls.Config{
		RootCAs:          roots,
		ServerName:       "127.0.0.1",
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	// names: the variants, then HAProxy; each round runs them all, the
	// order rotated by one from the round before.
	var names []string
	byName := map[string]variant{}
	for _, v := range vs {
		names = append(names, v.name)
		byName[v.name] = v
	}
	names = append(names, haproxyName)
	var all []map[string]result
	var raw strings.Builder
	for r := 0; r < rounds; r++ {
		round := map[string]result{}
		for i := range names {
			name := names[(i+r)%len(names)]
			res, log, err := one(byName[name], dir, p, name, port, sink, clientCfg, dur, warmup, rate)
			port++
			fmt.Fprintf(&raw, "# round %d %s (start %s)\n%s", r+1, name, res.start.UTC().Format("15:04:05"), log)
			if err != nil {
				fmt.Print(raw.String())
				return fmt.Errorf("round %d, %s: %w", r+1, name, err)
			}
			fmt.Fprintf(&raw, "window %.3fs: sink %.0f KiB, proxy cpu %.3fs, cpu%d busy %.3fs; client sent %d B, sink got %d B\n",
				res.window, res.kib, res.proxyCPU, proxyCPU, res.coreBusy, res.clientSent, res.sinkGot)
			round[name] = res
		}
		all = append(all, round)
	}
	report(os.Stdout, names, all, dur, warmup, rate)
	fmt.Printf("\nRaw:\n\n```\n%s```\n", raw.String())
	return nil
}

// pki is the certificate both proxies serve: PEM files for shardnet, and
// the chain and key in one file for HAProxy's crt.
type pki struct{ cert, key, combined string }

func makePKI(dir string) (pki, *x509.CertPool, error) {
	ca, err := tlscert.NewAuthority("tlsterm")
	if err != nil {
		return pki{}, nil, err
	}
	leaf, err := ca.Leaf("127.0.0.1")
	if err != nil {
		return pki{}, nil, err
	}
	var p pki
	if p.cert, p.key, err = tlscert.WriteFiles(dir, "server", leaf); err != nil {
		return pki{}, nil, err
	}
	c, err1 := os.ReadFile(p.cert)
	k, err2 := os.ReadFile(p.key)
	if err := errors.Join(err1, err2); err != nil {
		return pki{}, nil, err
	}
	p.combined = filepath.Join(dir, "server-combined.pem")
	return p, ca.Pool(), os.WriteFile(p.combined, append(c, k...), 0o600)
}

// haproxyConfig is HAProxy terminating TLS on front and relaying to back:
// one thread, mode tcp, TLS 1.3 with X25519 and AES-128-GCM.
func haproxyConfig(front, back, crt string) string {
	return fmt.Sprintf(`global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen relay
    bind %s ssl crt %s ssl-min-ver TLSv1.3 curves X25519 ciphersuites %s
    server sink %s
`, front, crt, haproxyCS, back)
}

// one runs a proxy and streams through it.
func one(v variant, dir string, p pki, name string, port int, sink *sink, cfg *tls.Config, dur, warmup time.Duration, rate float64) (result, string, error) {
	res := result{proxy: name, start: time.Now()}
	front := "127.0.0.1:" + strconv.Itoa(port)
	var argv, env []string
	pin := procstat.Pin{CPU: proxyCPU}
	switch name {
	default:
		argv = []string{filepath.Join(v.dir, "shardnet"), "proxy", "-listen", front, "-backend", sink.addr, "-shards", "1", "-tls", p.cert + "," + p.key}
		pin.GOMAXPROCS = 1
		if v.flagWait != "" {
			argv = append(argv, "-wait", v.flagWait)
		}
		if v.wait != "" {
			env = append(env, "SHARDNET_WAIT="+v.wait)
		}
	case haproxyName:
		cfgFile := filepath.Join(dir, fmt.Sprintf("haproxy-%d.cfg", port))
		if err := os.WriteFile(cfgFile, []byte(haproxyConfig(front, sink.addr, p.combined)), 0o644); err != nil {
			return res, "", err
		}
		argv = []string{"haproxy", "-db", "-f", cfgFile}
	}
	px, err := procstat.Start(name, pin, argv, env...)
	if err != nil {
		return res, "", err
	}
	defer px.Stop()
	if err := procstat.WaitListen(port, 10*time.Second); err != nil {
		px.Stop()
		return res, px.Output(), err
	}
	nc, err := net.DialTimeout("tcp", front, 5*time.Second)
	if err != nil {
		return res, px.Output(), err
	}
	tc := tls.Client(nc, cfg)
	defer tc.Close()
	if err := tc.Handshake(); err != nil {
		return res, px.Output(), err
	}
	st := tc.ConnectionState()
	desc := fmt.Sprintf("%s %s %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
	if len(env) > 0 {
		desc += "env: " + strings.Join(env, " ") + "\n"
	}
	startGot := sink.got.Load()
	var sent atomic.Int64
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() { done <- stream(tc, &sent, stop, rate) }()

	time.Sleep(warmup)
	at0, got0, cpu0, idle0 := time.Now(), sink.got.Load(), procstat.ReadCPUTime(px.PID()), coreIdle()
	time.Sleep(dur - warmup)
	at1, got1, cpu1, idle1 := time.Now(), sink.got.Load(), procstat.ReadCPUTime(px.PID()), coreIdle()
	close(stop)
	if err := <-done; err != nil {
		return res, desc + px.Output(), fmt.Errorf("client: %w", err)
	}
	tc.CloseWrite()
	// Every byte sent must reach the sink.
	deadline := time.Now().Add(10 * time.Second)
	for sink.got.Load()-startGot < sent.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res.window = at1.Sub(at0).Seconds()
	res.kib = float64(got1-got0) / 1024
	res.proxyCPU = procstat.CPUSeconds(cpu0, cpu1)
	res.coreBusy = -1
	if idle0 != nil && idle1 != nil {
		res.coreBusy = res.window - (idle1[proxyCPU] - idle0[proxyCPU])
	}
	res.clientSent, res.sinkGot = sent.Load(), sink.got.Load()-startGot
	tc.Close() // before the proxy stops, so that it has nothing to drain
	px.Stop()
	if res.sinkGot != res.clientSent {
		return res, desc + px.Output(), fmt.Errorf("the client sent %d bytes, the sink received %d", res.clientSent, res.sinkGot)
	}
	if res.kib <= 0 {
		return res, desc + px.Output(), errors.New("nothing reached the sink in the window")
	}
	return res, desc + px.Output(), nil
}

func coreIdle() []float64 {
	idle, err := procstat.CoreIdle()
	if err != nil || len(idle) <= proxyCPU {
		return nil
	}
	return idle
}

// stream writes chunks of a fixed pattern until stop, paced to rate MiB/s
// if rate > 0, counting what crypto/tls took.
func stream(c *tls.Conn, sent *atomic.Int64, stop <-chan struct{}, rate float64) error {
	buf := bytes.Repeat([]byte("tlsterm stream 0123456789abcdef\n"), chunk/32)
	start := time.Now()
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent.Load()) / (rate * (1 << 20)) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Write(buf)
		sent.Add(int64(n))
		if err != nil {
			return err
		}
	}
}

// sink is the plaintext backend: it reads and counts.
type sink struct {
	addr string
	ln   net.Listener
	got  atomic.Int64
}

func newSink(addr string) (*sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &sink{addr: addr, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				for {
					n, err := c.Read(buf)
					s.got.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return s, nil
}

// report prints each round and the paired verdicts: every variant
// against HAProxy, and every variant after the first against the first.
func report(w io.Writer, names []string, all []map[string]result, dur, warmup time.Duration, rate float64) {
	pace := "as fast as the client goes"
	if rate > 0 {
		pace = fmt.Sprintf("paced at %.0f MiB/s", rate)
	}
	fmt.Fprintf(w, "TLS termination, one connection streaming %s, %d paired rounds of %v per proxy (window: the last %v):\n\n", pace, len(all), dur, dur-warmup)
	fmt.Fprintln(w, "| round | proxy | start (UTC) | MiB/s | proxy CPU % | proxy CPU ns/KiB | CPU 0 busy ns/KiB |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|")
	for i, round := range all {
		for _, name := range names {
			r := round[name]
			fmt.Fprintf(w, "| %d | %s | %s | %.0f | %.0f | %.1f | %.1f |\n", i+1, r.proxy, r.start.UTC().Format("15:04:05"), r.mibPerSec(), 100*r.proxyCPU/r.window, r.nsPerKiB(), r.coreNsPerKiB())
		}
	}
	fmt.Fprintln(w)
	vs := names[:len(names)-1]
	for _, v := range vs {
		ratios, coreRatios := paired(all, v, haproxyName)
		m := median(ratios)
		verdict := "met"
		if m > 1 {
			verdict = "missed"
		}
		under := 0
		for _, x := range ratios {
			if x <= 1 {
				under++
			}
		}
		fmt.Fprintf(w, "- %s / HAProxy, proxy CPU per KiB: median %.2f over rounds %s (target ≤ 1.00: %s; %d of %d rounds ≤ 1)\n", v, m, list(ratios), verdict, under, len(ratios))
		if len(coreRatios) > 0 {
			fmt.Fprintf(w, "- %s / HAProxy, CPU 0 busy per KiB: median %.2f over rounds %s\n", v, median(coreRatios), list(coreRatios))
		}
	}
	for _, v := range vs[min(1, len(vs)):] {
		ratios, _ := paired(all, v, vs[0])
		fmt.Fprintf(w, "- %s / %s, proxy CPU per KiB: median %.2f over rounds %s\n", v, vs[0], median(ratios), list(ratios))
	}
}

// paired returns a's CPU per KiB over b's, round by round, by the proxy's
// CPU time and by CPU 0's busy time (when both were read).
func paired(all []map[string]result, a, b string) (ratios, coreRatios []float64) {
	for _, round := range all {
		x, y := round[a], round[b]
		ratios = append(ratios, x.nsPerKiB()/y.nsPerKiB())
		if x.coreBusy > 0 && y.coreBusy > 0 {
			coreRatios = append(coreRatios, x.coreNsPerKiB()/y.coreNsPerKiB())
		}
	}
	return ratios, coreRatios
}

func list(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(s, ", ")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
