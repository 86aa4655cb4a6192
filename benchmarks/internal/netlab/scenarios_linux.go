package netlab

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// ErrExpectation is wrapped by a Result's Err when a scenario's promise
// did not hold (a failure where none may be, a lost or corrupted byte, a
// check that did not catch a stopped server).
var ErrExpectation = errors.New("netlab: expectation not met")

// Result is one scenario's outcome under one load.
type Result struct {
	Scenario string
	Load     string        // what loaded it
	Done     uint64        // requests answered, or messages echoed
	PerSec   float64       // requests or messages per second
	MBPerSec float64       // echo only
	P99, Max time.Duration // latency
	Failed   int           // failed requests or connections
	Allowed  int           // failures the scenario allows: those in flight on a killed server
	Detect   time.Duration // how long HAProxy took to mark the server down, where one was
	Note     string
	Err      error // nil when every promise held
}

// LoadSpec sizes the loads.
type LoadSpec struct {
	Duration  time.Duration
	WrkConns  int
	EchoConns int
	EchoSize  int
	EchoDepth int
	EchoRate  int // total msgs/s (0: closed loop)
}

// running is a load in progress, of either kind.
type running struct {
	kind string
	d    time.Duration
	ld   *Load
	desc string
}

func (r *Rig) startLoad(kind string, spec LoadSpec, close bool) (*running, error) {
	if kind == "http" {
		ld, err := r.StartWrk(spec.WrkConns, spec.Duration, close)
		mode := "keep-alive"
		if close {
			mode = "Connection: close"
		}
		return &running{kind, spec.Duration, ld, fmt.Sprintf("wrk -c%d %s", spec.WrkConns, mode)}, err
	}
	ld, err := r.StartBenchRate(r.Bin, fmt.Sprintf("%s:%d", BalancerAddr, EchoPort), spec.EchoConns, spec.EchoSize, spec.EchoDepth, spec.EchoRate, spec.Duration)
	return &running{kind, spec.Duration, ld, fmt.Sprintf("bench -c%d %dB x%d", spec.EchoConns, spec.EchoSize, spec.EchoDepth)}, err
}

// finish waits for the load and fills res with its figures; a mismatched
// byte is an expectation error whatever the scenario.
func (ru *running) finish(res *Result) error {
	res.Load = ru.desc
	if ru.kind == "http" {
		w, err := ru.ld.Wrk(ru.d)
		if err != nil {
			return err
		}
		res.Done, res.PerSec, res.P99, res.Max, res.Failed = uint64(w.Requests), w.PerSec, w.P99, w.Max, w.Failed()
		if w.Failed() > 0 {
			res.Note = join(res.Note, fmt.Sprintf("wrk errors: connect %d, read %d, write %d, timeout %d, non-2xx %d", w.Connect, w.Read, w.Write, w.Timeout, w.Non2xx))
		}
		return nil
	}
	b, err := ru.ld.Bench(ru.d)
	if err != nil {
		return err
	}
	res.Done, res.PerSec, res.MBPerSec = b.Messages, b.MsgsPerSec, b.MBPerSec
	res.P99, res.Max = usToDuration(b.LatencyUs.P99), usToDuration(b.LatencyUs.Max)
	res.Failed = b.Errors
	if b.Mismatch {
		return fmt.Errorf("%w: bench saw a mismatched byte: %v", ErrExpectation, b.ErrorMessages)
	}
	if b.Errors > 0 {
		res.Note = join(res.Note, fmt.Sprintf("bench: %v", first(b.ErrorMessages, 3)))
	}
	return nil
}

func usToDuration(us float64) time.Duration { return time.Duration(us * float64(time.Microsecond)) }

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// Kill loads kind's servers, SIGKILLs backend 1's server a quarter into the
// run, and restarts it after. Only the connections it had open may fail
// (the most of HAProxy's session counts for it over the 10 ms before the
// kill): new connections that HAProxy still sends there are refused and
// retried elsewhere (retries, redispatch) until the check ejects it.
func (r *Rig) Kill(kind string, spec LoadSpec) Result {
	res := Result{Scenario: "SIGKILL b1"}
	const i = 1
	sv := fmt.Sprintf("b%d", i)
	res.Err = func() error {
		ld, err := r.startLoad(kind, spec, false)
		if err != nil {
			return err
		}
		time.Sleep(spec.Duration / 4)
		before, err := r.HAProxy.Server(kind, sv)
		if err != nil {
			return err
		}
		// scur is an instant's count of requests on b1; keep-alive
		// requests come and go between two reads of it, so the most of a
		// few reads just before the kill bounds what the kill can catch
		// (one read alone was one short in one run of five).
		most := before.Cur
		for range 4 {
			time.Sleep(2 * time.Millisecond)
			if s, err := r.HAProxy.Server(kind, sv); err == nil {
				most = max(most, s.Cur)
			}
		}
		killed := time.Now()
		if err := r.backends(kind)[i].Signal(syscall.SIGKILL); err != nil {
			return err
		}
		_, downErr := r.HAProxy.WaitStatus(kind, sv, "DOWN", spec.Duration)
		res.Detect = time.Since(killed)
		ferr := ld.finish(&res)
		after, _ := r.HAProxy.Server(kind, sv)
		res.Allowed = most
		res.Note = join(res.Note, fmt.Sprintf("%d sessions on b1 at the kill (the most of five reads); HAProxy on b1 after: %d connect errors, %d retries, %d redispatches",
			most, after.ConnErrors-before.ConnErrors, after.Retries-before.Retries, after.Redispatches-before.Redispatches))
		if ferr != nil {
			return ferr
		}
		if downErr != nil {
			return fmt.Errorf("%w: %v", ErrExpectation, downErr)
		}
		if res.Failed > res.Allowed {
			return fmt.Errorf("%w: %d failures, but only %d sessions were on the killed server", ErrExpectation, res.Failed, res.Allowed)
		}
		return nil
	}()
	if err := r.restartDead(kind, i); err != nil && res.Err == nil {
		res.Err = err
	}
	return res
}

// restartDead starts backend i's server again if it died, and waits until
// HAProxy has it up.
func (r *Rig) restartDead(kind string, i int) error {
	b := r.backends(kind)[i]
	if p := b.Proc(); p.Exited() || p.Signal(0) != nil {
		_ = p.Wait(10 * time.Second)
		if err := b.Restart(); err != nil {
			return err
		}
	}
	_, err := r.HAProxy.WaitStatus(kind, fmt.Sprintf("b%d", i), "UP", 20*time.Second)
	return err
}

// Stop loads kind's servers, SIGSTOPs backend 2's server a quarter into the
// run until HAProxy's L7 check marks it down (plus a second), then
// SIGCONTs it. Nothing may fail: the requests that waited on the stopped
// server are answered when it continues (the latency's maximum shows
// them), and the check keeps new ones away meanwhile. For http the L4
// check of the same server (backend http_l4) is read too: a bare TCP
// connect still succeeds, since the kernel completes the handshake for a
// stopped process, so it keeps the server up.
func (r *Rig) Stop(kind string, spec LoadSpec) Result {
	res := Result{Scenario: "SIGSTOP b2"}
	const i = 2
	sv := fmt.Sprintf("b%d", i)
	b := r.backends(kind)[i]
	res.Err = func() error {
		ld, err := r.startLoad(kind, spec, false)
		if err != nil {
			return err
		}
		time.Sleep(spec.Duration / 4)
		stopped := time.Now()
		if err := b.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		_, downErr := r.HAProxy.WaitStatus(kind, sv, "DOWN", max(spec.Duration/2, 5*time.Second))
		res.Detect = time.Since(stopped)
		if kind == "http" {
			l4, err := r.HAProxy.Server("http_l4", sv)
			if err == nil {
				res.Note = join(res.Note, fmt.Sprintf("the L4 check of the stopped server says %q", l4.Status))
			}
		}
		time.Sleep(time.Second)
		if err := b.Signal(syscall.SIGCONT); err != nil {
			return err
		}
		_, upErr := r.HAProxy.WaitStatus(kind, sv, "UP", 20*time.Second)
		res.Note = join(res.Note, fmt.Sprintf("stopped for %v", time.Since(stopped).Round(100*time.Millisecond)))
		if err := ld.finish(&res); err != nil {
			return err
		}
		switch {
		case downErr != nil:
			return fmt.Errorf("%w: the L7 check did not catch the stopped server: %v", ErrExpectation, downErr)
		case upErr != nil:
			return fmt.Errorf("%w: %v", ErrExpectation, upErr)
		case res.Failed > 0:
			return fmt.Errorf("%w: %d failures with a stopped server", ErrExpectation, res.Failed)
		}
		return nil
	}()
	_ = b.Signal(syscall.SIGCONT)
	return res
}

// Restart loads kind's servers and hands each server in which over to a
// new process, one after another, a second apart, while the load runs:
// nothing may fail. For echo, back-to-back short bench runs go on beside
// the long one, so new connections are made all through the restarts.
func (r *Rig) Restart(kind string, which []int, spec LoadSpec, close bool) Result {
	res := Result{Scenario: fmt.Sprintf("hand-over of %v", which)}
	if len(which) == Backends {
		res.Scenario = "rolling hand-over of all three"
	}
	res.Err = func() error {
		ld, err := r.startLoad(kind, spec, close)
		if err != nil {
			return err
		}
		watch := r.Watch(kind)
		var churn *churner
		if kind == "echo" {
			churn = r.startChurn(spec)
		}
		time.Sleep(spec.Duration / 4)
		var herr error
		for _, i := range which {
			if herr = r.backends(kind)[i].HandOver(); herr != nil {
				break
			}
			time.Sleep(time.Second)
		}
		var cres churnResult
		if churn != nil {
			cres = churn.stop()
		}
		ferr := ld.finish(&res)
		statuses := watch.Stop()
		if statuses != "" {
			res.Note = join(res.Note, "HAProxy saw "+statuses)
		}
		if churn != nil {
			res.Note = join(res.Note, fmt.Sprintf("%d short bench runs beside it: %d connection errors", cres.runs, cres.errors))
			res.Failed += cres.errors
		}
		for _, i := range which {
			if err := r.backends(kind)[i].WaitDrained(spec.Duration + Drain); err != nil && herr == nil {
				herr = err
			}
		}
		switch {
		case herr != nil:
			return herr
		case ferr != nil:
			return ferr
		case cres.err != nil:
			return cres.err
		case res.Failed > 0:
			return fmt.Errorf("%w: %d failures during hand-overs", ErrExpectation, res.Failed)
		}
		return nil
	}()
	return res
}

// churner runs short bench runs back to back until stopped.
type churner struct {
	stopc chan struct{}
	done  chan churnResult
}

type churnResult struct {
	runs, errors int
	err          error
}

func (r *Rig) startChurn(spec LoadSpec) *churner {
	c := &churner{stopc: make(chan struct{}), done: make(chan churnResult, 1)}
	go func() {
		var cr churnResult
		defer func() { c.done <- cr }()
		for {
			select {
			case <-c.stopc:
				return
			default:
			}
			const d = time.Second
			ld, err := r.StartBench(r.Bin, fmt.Sprintf("%s:%d", BalancerAddr, EchoPort), 4, spec.EchoSize, 1, d)
			if err != nil {
				cr.err = err
				return
			}
			b, err := ld.Bench(d)
			cr.runs++
			if err != nil {
				cr.err = err
				return
			}
			cr.errors += b.Errors
			if b.Mismatch {
				cr.err = fmt.Errorf("%w: a short bench saw a mismatched byte: %v", ErrExpectation, b.ErrorMessages)
				return
			}
		}
	}()
	return c
}

func (c *churner) stop() churnResult {
	close(c.stopc)
	return <-c.done
}

// StartBenchRate is StartBench with a fixed total rate (0: closed loop).
func (l *Lab) StartBenchRate(bin, addr string, conns, size, pipeline, rate int, d time.Duration) (*Load, error) {
	if rate == 0 {
		return l.StartBench(bin, addr, conns, size, pipeline, d)
	}
	p, err := l.Start("bench", l.Client, bin, "bench", "-addr", addr, "-c", fmt.Sprint(conns),
		"-size", fmt.Sprint(size), "-pipeline", fmt.Sprint(pipeline), "-duration", d.String(),
		"-rate", fmt.Sprint(rate), "-shards", "1", "-connect-timeout", "10s", "-json")
	if err != nil {
		return nil, err
	}
	return &Load{Proc: p}, nil
}
