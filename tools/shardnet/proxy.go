//go:build linux

package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// The proxy pairs every accepted client with an upstream connection dialed
// onto the client's own shard, so one thread owns both ends and the relay
// between them needs no locks. Bytes go both ways through relay (see
// proxy_relay.go), half-closes are passed on, and a pair ends when both
// directions have seen EOF or either side fails.
//
// Per pair:
//
//	client ──OnOpen──> paused, dialing ──connected──> relaying ──both EOFs──> closing both
//	                        │ refused/timeout: mark backend down, dial the next
//	                        └ none left: close client, log a line

// The relay's bound on queued output, per direction of a pair.
const (
	// proxyHigh is the queued output, per direction, past which the
	// proxy stops reading the sending side: with proxyLow, it bounds a
	// pair's user-space memory whatever the speed gap between the ends.
	proxyHigh = 1 << 20
	// proxyLow is where reading resumes.
	proxyLow = 256 << 10
)

// runProxy is the proxy command.
func runProxy(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	var backends addrList
	var connectTimeout, downFor time.Duration
	var useSplice bool
	var backendTLS, backendInsecure bool
	var backendCA string
	fs := newFlagSet("proxy", "TCP (layer 4) proxy: each client is relayed to a backend, round-robin, with\nback-pressure and half-close passed on both ways. A backend that refuses or\ntimes out is skipped for -down-for; a client no backend answers is closed.", `  shardnet proxy -listen 127.0.0.1:8000 -backend 127.0.0.1:7000
  shardnet proxy -listen :8000 -backend 10.0.0.1:80,10.0.0.2:80 -connect-timeout 1s
  shardnet proxy -listen 127.0.0.1:5201 -backend 127.0.0.1:5202 -splice   # zero-copy relay
  iperf3 -c 127.0.0.1 -p 5201                                              # measure it
  shardnet proxy -listen 127.0.0.1:8443 -tls cert.pem,key.pem -backend 127.0.0.1:8080   # terminate TLS
  shardnet proxy -listen 127.0.0.1:8000 -backend localhost:8443 -backend-tls -backend-ca ca.pem  # originate TLS
`, stderr)
	sf.register(fs, defaultAddr)
	sf.tls.register(fs)
	fs.BoolVar(&backendTLS, "backend-tls", false, "connect to the backends with TLS; their certificates are verified against the system's authorities, or -backend-ca")
	fs.StringVar(&backendCA, "backend-ca", "", "with -backend-tls: trust this authority's certificate (PEM file)")
	fs.BoolVar(&backendInsecure, "backend-insecure-skip-verify", false, "with -backend-tls: do not verify the backends' certificates (testing only)")
	fs.Var(&sf.addrs, "listen", "alias of -addr: the address clients connect to")
	fs.Var(&backends, "backend", "backend address(es), repeatable or comma-separated (required)")
	fs.DurationVar(&connectTimeout, "connect-timeout", 3*time.Second, "give up connecting to a backend after this long")
	fs.DurationVar(&downFor, "down-for", 5*time.Second, "skip a backend this long after it refused or timed out")
	fs.BoolVar(&useSplice, "splice", false, "relay with splice(2) through a pipe per direction, without copying through user space (Linux)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if len(backends) == 0 {
		fmt.Fprintln(stderr, "shardnet proxy: -backend is required")
		fs.Usage()
		return 2
	}
	for _, b := range backends {
		if !validBackend(b) {
			fmt.Fprintf(stderr, "shardnet proxy: -backend %q: want host:port, tcp[46]://host:port or unix:///path\n", b)
			return 2
		}
	}
	if connectTimeout <= 0 || downFor < 0 {
		fmt.Fprintln(stderr, "shardnet proxy: -connect-timeout must be > 0 and -down-for >= 0")
		return 2
	}
	if useSplice && (backendTLS || sf.tls.files != "" || sf.tls.selfSigned) {
		// splice moves bytes between the sockets without reading them:
		// records have to be decrypted and sealed on the way.
		fmt.Fprintln(stderr, "shardnet proxy: -splice cannot carry TLS (-tls, -tls-self-signed, -backend-tls)")
		return 2
	}
	var upTLS *tls.Config
	if backendTLS {
		var err error
		if upTLS, err = clientTLS(backendCA, backendInsecure); err != nil {
			fmt.Fprintf(stderr, "shardnet proxy: %v\n", err)
			return 2
		}
	} else if backendCA != "" || backendInsecure {
		fmt.Fprintln(stderr, "shardnet proxy: -backend-ca and -backend-insecure-skip-verify need -backend-tls")
		return 2
	}
	h := &proxyHandler{
		backends:       newBackendSet(backends, downFor),
		connectTimeout: connectTimeout,
		splice:         useSplice,
		log:            &lockedWriter{w: stderr},
		upTLS:          upTLS,
	}
	h.up = upstreamHandler{h}
	return serve("proxy", &sf, h, proxyOptions(useSplice), stdout, stderr)
}

// validBackend checks a backend address the way Dial will read it, so a
// typo fails at start-up rather than as a log line per client.
func validBackend(addr string) bool {
	if strings.HasPrefix(addr, "unix://") {
		return len(addr) > len("unix://")
	}
	for _, scheme := range []string{"tcp://", "tcp4://", "tcp6://"} {
		addr = strings.TrimPrefix(addr, scheme)
	}
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != ""
}

// lockedWriter serializes log lines written from several shards.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "shardnet proxy: "+format+"\n", args...)
}

// proxyHandler is the engine's handler, for the client side of each pair.
type proxyHandler struct {
	backends       *backendSet
	connectTimeout time.Duration
	splice         bool
	upTLS          *tls.Config // -backend-tls: the backends' TLS; nil for plaintext
	log            *lockedWriter
	up             upstreamHandler
	eng            *engine.Engine
	shards         []*relayPool // per shard; each touched only by its loop
}

// OnBoot keeps the engine, for Dial, and makes each shard's buffer pool.
func (h *proxyHandler) OnBoot(e *engine.Engine) error {
	h.eng = e
	h.shards = make([]*relayPool, e.Shards())
	for i := range h.shards {
		h.shards[i] = &relayPool{}
	}
	return nil
}

// OnOpen pairs a new client with an upstream. The client is not read until
// the upstream is connected: its bytes wait in the kernel, so a client that
// no backend answers costs no memory here.
func (h *proxyHandler) OnOpen(c *engine.Conn) error {
	p := &pair{h: h, client: c, pool: h.shards[c.Shard()], start: h.backends.next()}
	p.up.init(p, c)
	p.down.init(p, nil)
	c.SetContext(p)
	h.tuneSocket(c)
	c.PauseRead()
	p.onDial = p.dialed
	p.dial()
	return nil
}

// OnTraffic relays the client's bytes upstream.
func (h *proxyHandler) OnTraffic(c *engine.Conn) { pairOf(c).up.relay() }

// OnReadEOF passes the client's half-close on.
func (h *proxyHandler) OnReadEOF(c *engine.Conn) { pairOf(c).readEOF(&pairOf(c).up) }

// OnDrained resumes a -splice direction whose pipe waits for this
// connection to take bytes (NotifyWritable). The engine's watermarks are
// out of reach (see runProxy): the relay tracks its own queue.
func (h *proxyHandler) OnDrained(c *engine.Conn) { pairOf(c).drained(c) }

// OnClose ends the pair.
func (h *proxyHandler) OnClose(c *engine.Conn, reason error) { pairOf(c).closed(c, reason) }

// OnTick is not used.
func (h *proxyHandler) OnTick(int) {}

// upstreamHandler is the handler of the dialed side of each pair.
type upstreamHandler struct{ h *proxyHandler }

// OnBoot is never called for a dial handler.
func (upstreamHandler) OnBoot(*engine.Engine) error { return nil }

// OnOpen accepts: the dial callback links the connection to its pair.
func (upstreamHandler) OnOpen(*engine.Conn) error { return nil }

// OnTraffic relays the backend's bytes to the client.
func (upstreamHandler) OnTraffic(c *engine.Conn) { pairOf(c).down.relay() }

// OnReadEOF passes the backend's half-close on.
func (upstreamHandler) OnReadEOF(c *engine.Conn) { pairOf(c).readEOF(&pairOf(c).down) }

// OnDrained resumes a stalled -splice direction (see proxyHandler).
func (upstreamHandler) OnDrained(c *engine.Conn) { pairOf(c).drained(c) }

// OnClose ends the pair.
func (upstreamHandler) OnClose(c *engine.Conn, reason error) {
	if p, ok := c.Context().(*pair); ok {
		p.closed(c, reason)
	}
}

// OnTick is not used.
func (upstreamHandler) OnTick(int) {}

func pairOf(c *engine.Conn) *pair { return c.Context().(*pair) }

// pair is one client and its upstream. Loop only: both connections live on
// the same shard, which alone touches the pair.
type pair struct {
	h        *proxyHandler
	pool     *relayPool
	client   *engine.Conn
	upstream *engine.Conn // nil until connected
	up       direction    // client -> upstream
	down     direction    // upstream -> client
	onDial   func(*engine.Conn, error)

	start    int   // the backend round-robin chose for this client
	attempts int   // backends tried so far
	lastErr  error // the last dial error, for the log line
	done     bool  // the pair has begun closing
}

// dial connects to the next backend that is not marked down, on the
// client's shard. When none is left the client is closed.
func (p *pair) dial() {
	h := p.h
	for p.attempts < h.backends.len() {
		i := (p.start + p.attempts) % h.backends.len()
		p.attempts++
		b := h.backends.at(i)
		if b.isDown() {
			continue
		}
		opts := []engine.DialOption{engine.OnShard(p.client.Shard()), engine.DialTimeout(h.connectTimeout), engine.DialHandler(h.up)}
		if h.upTLS != nil {
			opts = append(opts, engine.DialTLS(h.upTLS))
		}
		err := h.eng.Dial(b.addr, p.onDial, opts...)
		if err == nil {
			return
		}
		p.lastErr = err
	}
	why := "every backend is marked down"
	if p.lastErr != nil {
		why = "last error: " + p.lastErr.Error()
	}
	h.log.printf("client %v: no backend answered (%s); closing it", p.client.RemoteAddr(), why)
	p.done = true
	p.client.Close()
}

// dialed runs on the client's shard when a connect ends.
func (p *pair) dialed(up *engine.Conn, err error) {
	if err != nil {
		if errors.Is(err, engine.ErrEngineStopped) {
			return // the engine closes the client too
		}
		b := p.h.backends.at((p.start + p.attempts - 1) % p.h.backends.len())
		if b.markDown() {
			p.h.log.printf("backend %s is down (%v); skipping it for %v", b.addr, err, p.h.backends.downFor)
		}
		p.lastErr = err
		if p.client.Closed() {
			return
		}
		p.dial()
		return
	}
	if p.client.Closed() {
		up.Close()
		return
	}
	p.upstream = up
	p.h.tuneSocket(up)
	up.SetContext(p)
	p.up.dst = up
	p.down.src = up
	p.down.dst = p.client
	p.client.ResumeRead()
}

// drained runs when c, the destination of a stalled -splice direction,
// can take bytes again.
func (p *pair) drained(c *engine.Conn) {
	for _, d := range [...]*direction{&p.up, &p.down} {
		if d.dst == c && d.sp.stalled {
			d.unstall()
		}
	}
}

// readEOF handles the half-close of d's source: it is passed on once d's
// queued bytes are out, and when both directions are done the pair closes.
func (p *pair) readEOF(d *direction) {
	d.eof = true
	d.flushPipe()
	if d.dst != nil && !d.dst.Closed() {
		d.dst.CloseWrite()
	}
	if p.up.eof && p.down.eof {
		p.done = true
		p.client.Close()
		p.upstream.Close()
	}
}

// closed runs when either connection of the pair is closed: the other one
// follows, gracefully if this one ended cleanly (its queued bytes still
// go out), at once if it failed.
func (p *pair) closed(c *engine.Conn, reason error) {
	other := p.upstream
	if c == p.upstream {
		other = p.client
	}
	if other != nil && !other.Closed() {
		if errors.Is(reason, engine.ErrPeerClosed) || errors.Is(reason, engine.ErrLocalClose) ||
			errors.Is(reason, engine.ErrEngineStopped) {
			other.Close()
		} else {
			other.Abort()
		}
	}
	if (p.upstream == nil || p.upstream.Closed()) && p.client.Closed() {
		p.up.release()
		p.down.release()
	}
}
