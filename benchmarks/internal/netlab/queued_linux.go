package netlab

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The queued-output probe's ports: its own shardnet proxy on the balancer,
// and the source it relays from, in backend 1.
const (
	QueueProxyPort  = 9100
	QueueSourcePort = 7300
)

// The relay's per-connection bound on queued output (engine/relay
// WithWatermarks' default high mark) and its read buffer (a read may pass
// the mark by one buffer): what a pair may hold in the proxy for the
// client while the client cannot take it.
const (
	relayHighWater = 1 << 20
	relayReadBuf   = 256 << 10
)

// queueProbe is the memory half of the dead path: clients connect through
// a shardnet proxy to a source in backend 1 that, from the moment the path
// dies, sends each of them Size bytes as fast as it can. The client's side
// of the path is dead, so the proxy's queued output to the client fills
// to the relay's high mark and the relay stops reading the source; its
// RSS must grow by no more than that per connection (plus slack), and the
// clients must get every byte, in order, after the path comes back.
type queueProbe struct {
	proxy *Proc
	ln    net.Listener
	size  int64
	start chan struct{} // closed when the path dies: the source starts
	stop  chan struct{} // closed by atReturn (or result): the sampler ends

	wg       sync.WaitGroup
	sent     atomic.Int64 // by the source, all connections
	mu       sync.Mutex
	errs     []error   // guarded by mu
	got      int64     // verified bytes, all clients; guarded by mu
	lastDone time.Time // when the last client got its last byte; guarded by mu

	// Set by atDead and atReturn, read by result after them.
	sampler            sync.WaitGroup
	rssBefore, rssPeak int64 // the proxy's, at the death and while dead
	sentAtReturn       int64
	returnedAt         time.Time
}

// startQueueProbe starts the source, the proxy and conns clients.
func (r *Rig) startQueueProbe(conns int, size int64) (*queueProbe, error) {
	qp := &queueProbe{size: size, start: make(chan struct{}), stop: make(chan struct{})}
	if err := InNS(r.Backend[1], func() error {
		var err error
		qp.ln, err = net.Listen("tcp", fmt.Sprintf("%s:%d", BackendAddr(1), QueueSourcePort))
		return err
	}); err != nil {
		return nil, err
	}
	qp.wg.Add(1)
	go qp.accept(conns)
	p, err := r.Start("queue-proxy", r.Balancer, r.Bin, "proxy", "-listen", fmt.Sprintf("%s:%d", BalancerAddr, QueueProxyPort),
		"-backend", fmt.Sprintf("%s:%d", BackendAddr(1), QueueSourcePort), "-shards", "1")
	if err == nil {
		_, err = p.WaitFor(listeningRe, startWait)
		if err != nil {
			p.Kill()
		}
	}
	if err != nil {
		qp.ln.Close()
		qp.wg.Wait()
		return nil, err
	}
	qp.proxy = p
	for i := 0; i < conns; i++ {
		var c net.Conn
		if err := InNS(r.Client, func() error {
			var err error
			c, err = net.DialTimeout("tcp", fmt.Sprintf("%s:%d", BalancerAddr, QueueProxyPort), 10*time.Second)
			return err
		}); err != nil {
			qp.fail(err)
			break
		}
		qp.wg.Add(1)
		go qp.read(c)
	}
	return qp, nil
}

// fail records err; the probe did not hold.
func (qp *queueProbe) fail(err error) {
	qp.mu.Lock()
	qp.errs = append(qp.errs, err)
	qp.mu.Unlock()
}

// accept takes the proxy's connections to the source, up to conns, each
// sent the pattern once the path dies.
func (qp *queueProbe) accept(conns int) {
	defer qp.wg.Done()
	defer qp.ln.Close()
	for i := 0; i < conns; i++ {
		c, err := qp.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				qp.fail(err)
			}
			return
		}
		qp.wg.Add(1)
		go qp.send(c)
	}
}

// pattern fills b with the stream's bytes from offset off: each byte is
// its offset modulo 251, so a lost, doubled or moved byte shows.
func pattern(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}

// send writes the pattern to c once the path died, Size bytes, and closes.
func (qp *queueProbe) send(c net.Conn) {
	defer qp.wg.Done()
	defer c.Close()
	select {
	case <-qp.start:
	case <-qp.stop:
		return
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := make([]byte, 64<<10)
	for off := int64(0); off < qp.size; {
		n := min(int64(len(buf)), qp.size-off)
		pattern(buf[:n], off)
		if _, err := c.Write(buf[:n]); err != nil {
			qp.fail(fmt.Errorf("source: after %d bytes: %v", off, err))
			return
		}
		off += n
		qp.sent.Add(n)
	}
}

// read takes the stream until EOF and checks every byte and the count.
func (qp *queueProbe) read(c net.Conn) {
	defer qp.wg.Done()
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := make([]byte, 64<<10)
	want := make([]byte, len(buf))
	var off int64
	for {
		n, err := c.Read(buf)
		if n > 0 {
			pattern(want[:n], off)
			for i := 0; i < n; i++ {
				if buf[i] != want[i] {
					qp.fail(fmt.Errorf("client: byte %d is %d, want %d", off+int64(i), buf[i], want[i]))
					return
				}
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			qp.fail(fmt.Errorf("client: after %d bytes: %v", off, err))
			return
		}
	}
	if off != qp.size {
		qp.fail(fmt.Errorf("client: got %d bytes, want %d", off, qp.size))
	}
	qp.mu.Lock()
	qp.got += off
	qp.lastDone = time.Now()
	qp.mu.Unlock()
}

// atDead starts the source and samples the proxy's RSS until atReturn.
func (qp *queueProbe) atDead() {
	qp.rssBefore, _ = qp.proxy.RSS()
	qp.rssPeak = qp.rssBefore
	close(qp.start)
	qp.sampler.Add(1)
	go func() {
		defer qp.sampler.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-qp.stop:
				return
			case <-t.C:
			}
			if v, err := qp.proxy.RSS(); err == nil && v > qp.rssPeak {
				qp.rssPeak = v
			}
		}
	}()
}

// atReturn ends the sampling, just before the path comes back.
func (qp *queueProbe) atReturn() {
	close(qp.stop)
	qp.sampler.Wait()
	qp.sentAtReturn = qp.sent.Load()
	qp.returnedAt = time.Now()
}

// result waits for the clients (bounded by their deadlines), stops the
// proxy, and judges: every byte arrived, in order; the proxy's RSS grew
// by at most the relay's bound per connection plus slack while the path
// was dead.
func (qp *queueProbe) result(name string, conns int, slack int64) Result {
	select {
	case <-qp.stop:
	default:
		close(qp.stop) // the path never died: the source never started
	}
	qp.ln.Close()
	qp.wg.Wait()
	qp.proxy.Kill()
	bound := int64(conns)*(relayHighWater+relayReadBuf) + slack
	res := Result{Scenario: name, Load: fmt.Sprintf("a second shardnet proxy: %d clients, each sent %d MiB by the server behind it from the moment the path died", conns, qp.size>>20),
		Done: uint64(qp.got)}
	if !qp.lastDone.IsZero() && !qp.returnedAt.IsZero() {
		res.Max = qp.lastDone.Sub(qp.returnedAt)
		res.MBPerSec = float64(qp.got) / res.Max.Seconds() / 1e6
	}
	grew := qp.rssPeak - qp.rssBefore
	res.Note = fmt.Sprintf("the server had sent %.1f MiB when the path came back (the rest waited on the relay's high mark); proxy RSS %.1f→%.1f MiB while dead, +%.1f MiB, bound %d×(%d KiB high mark + %d KiB read) + %d MiB slack = %.1f MiB; max is the time from the return to the last byte",
		float64(qp.sentAtReturn)/(1<<20), float64(qp.rssBefore)/(1<<20), float64(qp.rssPeak)/(1<<20), float64(grew)/(1<<20),
		conns, relayHighWater>>10, relayReadBuf>>10, slack>>20, float64(bound)/(1<<20))
	qp.mu.Lock()
	errs := qp.errs
	qp.mu.Unlock()
	switch {
	case len(errs) > 0:
		res.Failed = len(errs)
		res.Err = fmt.Errorf("%w: %v", ErrExpectation, errors.Join(errs...))
	case qp.returnedAt.IsZero():
		res.Err = fmt.Errorf("%w: the path never died", ErrExpectation)
	case qp.got != int64(conns)*qp.size:
		res.Err = fmt.Errorf("%w: the clients verified %d bytes, want %d", ErrExpectation, qp.got, int64(conns)*qp.size)
	case grew > bound:
		res.Err = fmt.Errorf("%w: the proxy's RSS grew by %d bytes while the path was dead, past %d", ErrExpectation, grew, bound)
	}
	return res
}
