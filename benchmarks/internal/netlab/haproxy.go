package netlab

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Ports on the balancer and the backends.
const (
	HTTPPort  = 80   // HAProxy's HTTP frontend (TCP mode)
	EchoPort  = 7000 // HAProxy's echo frontend, and each backend's echo server
	ProxyPort = 9000 // shardnet proxy on the balancer, to the echo backends
	BackHTTP  = 8080 // each backend's HTTP server
)

// CheckInterval is HAProxy's health-check interval; two failures in a row
// take a server out, two successes bring it back.
const CheckInterval = 300 * time.Millisecond

// HAProxyConfig is the balancer's configuration: TCP mode, the PROXY
// protocol (v2) to every backend, on the health checks too
// (check-send-proxy), L7 checks (an HTTP GET for http; for echo the line
// "ping\\n", sent in hex, expected back), three retries with redispatch to another
// server. The "_l4" backends take no traffic: they check the same servers
// with a bare TCP connect, to show what an L4 check misses.
func HAProxyConfig(statsSock string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
    maxconn 4000

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check %dms
    retries 3
    option redispatch
    default-server inter %dms fall 2 rise 2

frontend http_in
    bind %s:%d
    default_backend http

frontend echo_in
    bind %s:%d
    default_backend echo

backend http
    balance roundrobin
    option httpchk GET /plaintext
    http-check expect status 200
`, statsSock, 2*CheckInterval.Milliseconds(), CheckInterval.Milliseconds(), BalancerAddr, HTTPPort, BalancerAddr, EchoPort)
	for i := 1; i <= Backends; i++ {
		fmt.Fprintf(&b, "    server b%d %s:%d send-proxy-v2 check check-send-proxy\n", i, BackendAddr(i), BackHTTP)
	}
	b.WriteString(`
backend echo
    balance roundrobin
    option tcp-check
    tcp-check send-binary 70696e670a
    tcp-check expect string ping
`)
	for i := 1; i <= Backends; i++ {
		fmt.Fprintf(&b, "    server b%d %s:%d send-proxy-v2 check check-send-proxy\n", i, BackendAddr(i), EchoPort)
	}
	b.WriteString("\nbackend http_l4\n")
	for i := 1; i <= Backends; i++ {
		fmt.Fprintf(&b, "    server b%d %s:%d check\n", i, BackendAddr(i), BackHTTP)
	}
	return b.String()
}

// ServerStat is one server's line of HAProxy's "show stat".
type ServerStat struct {
	Backend, Server string
	Status          string // UP, DOWN, "UP 1/2", "DOWN 1/2", MAINT, no check
	Cur             int    // sessions open now (scur)
	Total           int    // sessions since start (stot)
	ConnErrors      int    // failed connects (econ)
	RespErrors      int    // sessions aborted on the server's side (eresp)
	Retries         int    // connects retried (wretr)
	Redispatches    int    // sessions sent to another server (wredis)
	LastCheck       string // the last check's status and text (check_status, last_chk)
}

// ErrStatFormat is returned when "show stat" has no header or a line too
// short for its header.
var ErrStatFormat = errors.New("netlab: unexpected show stat output")

// ParseStat reads "show stat" CSV: a "# pxname,svname,..." header, then a
// line per proxy and server. Frontend and backend summary lines are left
// out.
func ParseStat(csv string) ([]ServerStat, error) {
	sc := bufio.NewScanner(strings.NewReader(csv))
	var col map[string]int
	var out []ServerStat
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "# "); ok {
			col = map[string]int{}
			for i, name := range strings.Split(h, ",") {
				col[name] = i
			}
			continue
		}
		if line == "" {
			continue
		}
		if col == nil {
			return nil, fmt.Errorf("%w: no header before %q", ErrStatFormat, line)
		}
		f := strings.Split(line, ",")
		get := func(name string) (string, error) {
			i, ok := col[name]
			if !ok || i >= len(f) {
				return "", fmt.Errorf("%w: no %s in %q", ErrStatFormat, name, line)
			}
			return f[i], nil
		}
		num := func(name string) (int, error) {
			s, err := get(name)
			if err != nil || s == "" {
				return 0, err
			}
			return strconv.Atoi(s)
		}
		sv, err := get("svname")
		if err != nil {
			return nil, err
		}
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		s := ServerStat{Server: sv}
		if s.Backend, err = get("pxname"); err != nil {
			return nil, err
		}
		if s.Status, err = get("status"); err != nil {
			return nil, err
		}
		cs, _ := get("check_status")
		lc, _ := get("last_chk")
		s.LastCheck = strings.TrimSpace(cs + " " + lc)
		for _, n := range []struct {
			name string
			to   *int
		}{{"scur", &s.Cur}, {"stot", &s.Total}, {"econ", &s.ConnErrors}, {"eresp", &s.RespErrors}, {"wretr", &s.Retries}, {"wredis", &s.Redispatches}} {
			if *n.to, err = num(n.name); err != nil {
				return nil, fmt.Errorf("%w: %s in %q: %v", ErrStatFormat, n.name, line, err)
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// HAProxy is the running balancer and its stats socket.
type HAProxy struct {
	*Proc
	sock string
}

// StartHAProxy writes the configuration and runs HAProxy in the balancer
// namespace, in the foreground, until its stats socket answers.
func (l *Lab) StartHAProxy() (*HAProxy, error) {
	sock := l.Dir + "/haproxy.sock"
	cfg := l.Dir + "/haproxy.cfg"
	if err := writeFile(cfg, HAProxyConfig(sock)); err != nil {
		return nil, err
	}
	p, err := l.Start("haproxy", l.Balancer, "haproxy", "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	h := &HAProxy{Proc: p, sock: sock}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := h.Stats(); err == nil {
			return h, nil
		} else if p.Exited() || time.Now().After(deadline) {
			return nil, fmt.Errorf("haproxy did not start (%v):\n%s", err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command sends one command to the stats socket and returns the answer.
func (h *HAProxy) command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.sock, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break // HAProxy closes after one command
		}
	}
	return b.String(), nil
}

// Stats is every server's line of "show stat".
func (h *HAProxy) Stats() ([]ServerStat, error) {
	out, err := h.command("show stat")
	if err != nil {
		return nil, err
	}
	return ParseStat(out)
}

// Server is one server's line.
func (h *HAProxy) Server(backend, server string) (ServerStat, error) {
	all, err := h.Stats()
	if err != nil {
		return ServerStat{}, err
	}
	for _, s := range all {
		if s.Backend == backend && s.Server == server {
			return s, nil
		}
	}
	return ServerStat{}, fmt.Errorf("no server %s/%s in show stat", backend, server)
}

// WaitStatus waits up to d until the server's status starts with want
// ("UP" or "DOWN"; "UP 1/2" is a server going down, so it is not "UP"
// until the word stands alone) and returns how long that took.
func (h *HAProxy) WaitStatus(backend, server, want string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		s, err := h.Server(backend, server)
		if err == nil && s.Status == want {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			return 0, fmt.Errorf("%s/%s not %s after %v (status %q, last check %q, %v)", backend, server, want, d, s.Status, s.LastCheck, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
