package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The ports of the two echo servers with an idle timeout, on the balancer.
const (
	IdleShortPort = 7101 // -idle shorter than the dead time
	IdleLongPort  = 7102 // -idle longer than the dead time
)

// IdleShort and IdleLong are those servers' -idle: the dead path must
// outlast the one and not the other.
const (
	IdleShort = time.Second
	IdleLong  = 10 * time.Second
)

// idleTick is how often an idle-test client sends a message: well inside
// IdleShort, so that only the dead path can make a connection idle.
const idleTick = 100 * time.Millisecond

// idleConns is how many connections each idle-test server gets.
const idleConns = 4

var statsTotalRe = regexp.MustCompile(`(?m)^total: conns=(\d+) opened=(\d+) closed=(\d+)`)

// idleProbe is the timeout half of the dead path: echo servers in the
// balancer namespace, one with -idle IdleShort and one with -idle
// IdleLong, each with idleConns clients from the client namespace that
// echo a small message every idleTick (verified) until the run ends or
// the server closes the connection.
type idleProbe struct {
	short, long *Proc
	stop        chan struct{}
	wg          sync.WaitGroup
	conns       []*idleConn
	// shortClosed and longClosed are each server's closed-connection
	// count in its last stats line before the path came back; set by
	// atReturn.
	shortClosed, longClosed int

	mu       sync.Mutex
	returned time.Time // when the path came back; guarded by mu
}

// idleConn is one client's record; written by its goroutine only until
// wg.Wait.
type idleConn struct {
	short    bool
	echoes   int       // verified
	after    int       // verified echoes sent after the path came back
	closedAt time.Time // when the client saw the server's close
	err      error     // anything other than the server's close
}

// startIdleProbe starts the two servers and their clients.
func (r *Rig) startIdleProbe() (*idleProbe, error) {
	ip := &idleProbe{stop: make(chan struct{})}
	start := func(name string, port int, idle time.Duration) (*Proc, error) {
		p, err := r.Start(name, r.Balancer, r.Bin, "echo", "-addr", fmt.Sprintf("%s:%d", BalancerAddr, port),
			"-shards", "1", "-idle", idle.String(), "-stats", "100ms")
		if err != nil {
			return nil, err
		}
		if _, err := p.WaitFor(listeningRe, startWait); err != nil {
			p.Kill()
			return nil, err
		}
		return p, nil
	}
	var err error
	if ip.short, err = start("echo-idle-short", IdleShortPort, IdleShort); err != nil {
		return nil, err
	}
	if ip.long, err = start("echo-idle-long", IdleLongPort, IdleLong); err != nil {
		ip.short.Kill()
		return nil, err
	}
	for _, short := range []bool{true, false} {
		port := IdleLongPort
		if short {
			port = IdleShortPort
		}
		for i := 0; i < idleConns; i++ {
			var c net.Conn
			if err := InNS(r.Client, func() error {
				var err error
				c, err = net.DialTimeout("tcp", fmt.Sprintf("%s:%d", BalancerAddr, port), 10*time.Second)
				return err
			}); err != nil {
				ip.finish()
				return nil, err
			}
			ic := &idleConn{short: short}
			ip.conns = append(ip.conns, ic)
			ip.wg.Add(1)
			go ip.run(c, ic, i)
		}
	}
	return ip, nil
}

// run echoes a message every idleTick on c until stop, or until the server
// closes c.
func (ip *idleProbe) run(c net.Conn, ic *idleConn, id int) {
	defer ip.wg.Done()
	defer c.Close()
	msg := make([]byte, 32)
	got := make([]byte, len(msg))
	t := time.NewTicker(idleTick)
	defer t.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ip.stop:
			return
		case <-t.C:
		}
		copy(msg, fmt.Sprintf("conn %2d message %08d ........", id, seq))
		sent := time.Now()
		// Long enough for TCP's back-off after the dead path.
		c.SetDeadline(sent.Add(30 * time.Second))
		_, err := c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, got)
		}
		if err != nil {
			if peerClosed(err) {
				ic.closedAt = time.Now()
			} else {
				ic.err = err
			}
			return
		}
		if !bytes.Equal(msg, got) {
			ic.err = fmt.Errorf("sent %q, got %q back", msg, got)
			return
		}
		ic.echoes++
		if ip.returnedBefore(sent) {
			ic.after++
		}
	}
}

// peerClosed says whether err is the server's close: an end of stream or
// a reset (the client's retransmitted data reached a closed socket).
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// returnedBefore says whether the path had come back before t.
func (ip *idleProbe) returnedBefore(t time.Time) bool {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	return !ip.returned.IsZero() && ip.returned.Before(t)
}

// atReturn reads both servers' closed counts from their last stats line,
// just before the path comes back: a close counted there happened while
// the path was dead.
func (ip *idleProbe) atReturn() {
	ip.shortClosed = lastClosed(ip.short.Output())
	ip.longClosed = lastClosed(ip.long.Output())
	ip.mu.Lock()
	ip.returned = time.Now()
	ip.mu.Unlock()
}

// lastClosed is the closed count of the last "total:" stats line in out,
// or -1 without one.
func lastClosed(out string) int {
	m := statsTotalRe.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(m[len(m)-1][3])
	return n
}

// finish stops the clients and the servers.
func (ip *idleProbe) finish() {
	close(ip.stop)
	ip.wg.Wait()
	ip.short.Kill()
	ip.long.Kill()
}

// result stops the probe and judges it: every connection to the
// IdleShort server was closed by the server while the path was dead and
// the client saw it after the path came back; no connection to the
// IdleLong server was closed, and each echoed verified messages after
// the path came back.
func (ip *idleProbe) result(name string, dead time.Duration) Result {
	ip.finish()
	res := Result{Scenario: name, Load: fmt.Sprintf("echo -idle %v and echo -idle %v on the balancer: %d connections each, a verified 32 B message every %v",
		IdleShort, IdleLong, idleConns, idleTick)}
	var shortSeen, longAfter int
	var seenAfter []time.Duration
	var errs []error
	for _, ic := range ip.conns {
		res.Done += uint64(ic.echoes)
		if ic.err != nil {
			res.Failed++
			errs = append(errs, ic.err)
			continue
		}
		switch {
		case ic.short && !ic.closedAt.IsZero():
			shortSeen++
			seenAfter = append(seenAfter, ic.closedAt.Sub(ip.returned))
		case ic.short:
			errs = append(errs, fmt.Errorf("a connection to the -idle %v server outlived %v without data", IdleShort, dead))
		case !ic.closedAt.IsZero():
			res.Failed++
			errs = append(errs, fmt.Errorf("the -idle %v server closed a connection", IdleLong))
		case ic.after > 0:
			longAfter++
		default:
			errs = append(errs, fmt.Errorf("a connection to the -idle %v server echoed nothing after the path came back", IdleLong))
		}
	}
	res.Note = fmt.Sprintf("-idle %v: closed by the server while the path was dead %d (its stats at the return), seen closed by the client %d of %d, after the return by %v; -idle %v: closed %d, echoing verified data after the return %d of %d",
		IdleShort, ip.shortClosed, shortSeen, idleConns, seenAfter, IdleLong, ip.longClosed, longAfter, idleConns)
	switch {
	case len(errs) > 0:
		res.Err = fmt.Errorf("%w: %v", ErrExpectation, errors.Join(errs...))
	case ip.shortClosed != idleConns:
		res.Err = fmt.Errorf("%w: the -idle %v server had closed %d of %d connections when the path came back", ErrExpectation, IdleShort, ip.shortClosed, idleConns)
	case ip.longClosed != 0:
		res.Err = fmt.Errorf("%w: the -idle %v server had closed %d connections when the path came back", ErrExpectation, IdleLong, ip.longClosed)
	}
	for _, d := range seenAfter {
		if d < 0 && res.Err == nil {
			res.Err = fmt.Errorf("%w: a client saw the close %v before the path came back", ErrExpectation, -d)
		}
	}
	return res
}
