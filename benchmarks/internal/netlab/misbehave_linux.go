package netlab

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StartProxy runs "shardnet proxy" on the balancer, relaying to the three
// echo servers with the PROXY protocol (v2), which they require.
func (r *Rig) StartProxy() (*Proc, error) {
	var backs []string
	for i := 1; i <= Backends; i++ {
		backs = append(backs, fmt.Sprintf("%s:%d", BackendAddr(i), EchoPort))
	}
	p, err := r.Start("proxy", r.Balancer, r.Bin, "proxy", "-listen", fmt.Sprintf("%s:%d", BalancerAddr, ProxyPort),
		"-backend", strings.Join(backs, ","), "-send-proxy", "v2", "-shards", "1")
	if err != nil {
		return nil, err
	}
	if _, err := p.WaitFor(listeningRe, startWait); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// MisbehaveSpec sizes a run on the impaired link.
type MisbehaveSpec struct {
	Duration  time.Duration // each bench's
	EchoConns int
	EchoSize  int
	EchoRate  int   // total msgs/s per bench
	ShaBytes  int64 // sent through the proxy and checked by sha256 both ways
	Dead      time.Duration
	// MemSlack is how much a process's RSS may grow while the path is dead.
	MemSlack int64
	// With Dead > 0 and QueueConns > 0, QueueConns clients of a second
	// proxy are each sent QueueBytes from the moment the path dies; the
	// proxy's RSS may grow by the relay's high mark and read buffer per
	// connection plus QueueSlack.
	QueueConns int
	QueueBytes int64
	QueueSlack int64
}

// Misbehave runs, with impairment x on the client's link: bench through
// HAProxy to echo, bench through the shardnet proxy to echo, and
// ShaBytes through the proxy to an echo server and back, hashed on both
// sides. With Dead > 0, a second into the run every packet is dropped for
// Dead (netem's 100 % loss, not a link taken down), while the RSS of the
// proxy, HAProxy and the echo servers is sampled. Nothing may be lost or
// corrupted, no connection may fail (every timeout configured on the path
// is longer than the dead time), and no RSS may grow past MemSlack. Also
// with Dead > 0, a last row is the other half of that promise: echo
// servers on the balancer with -idle IdleShort (shorter than Dead) and
// -idle IdleLong, each with clients messaging every idleTick; the first
// must have closed every connection by the time the path comes back, the
// second none, and its clients echo verified data after.
func (r *Rig) Misbehave(name string, im *Impairer, x Impairment, proxy *Proc, spec MisbehaveSpec) []Result {
	via := []struct {
		name, addr string
	}{
		{"echo via HAProxy", fmt.Sprintf("%s:%d", BalancerAddr, EchoPort)},
		{"echo via shardnet proxy", fmt.Sprintf("%s:%d", BalancerAddr, ProxyPort)},
	}
	res := make([]Result, len(via)+1)
	var probe *idleProbe
	var probeErr error
	if spec.Dead > 0 {
		// Before the loads, so that the dead time falls where it did
		// without it.
		probe, probeErr = r.startIdleProbe()
	}
	var queue *queueProbe
	var queueErr error
	if spec.Dead > 0 && spec.QueueConns > 0 {
		queue, queueErr = r.startQueueProbe(spec.QueueConns, spec.QueueBytes)
	}
	csumBefore := r.csumErrors()
	statsBefore := im.Stats()
	im.Set(x)
	var loads []*Load
	for i, v := range via {
		rate := fmt.Sprintf("@%d/s", spec.EchoRate)
		if spec.EchoRate == 0 {
			rate = "closed loop"
		}
		res[i] = Result{Scenario: name, Load: fmt.Sprintf("%s: bench -c%d %dB %s", v.name, spec.EchoConns, spec.EchoSize, rate)}
		ld, err := r.StartBenchRate(r.Bin, v.addr, spec.EchoConns, spec.EchoSize, 1, spec.EchoRate, spec.Duration)
		if err != nil {
			res[i].Err = err
		}
		loads = append(loads, ld)
	}
	sha := &res[len(via)]
	*sha = Result{Scenario: name, Load: fmt.Sprintf("sha256 of %d MiB through the shardnet proxy and back", spec.ShaBytes>>20)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		var spread time.Duration
		if spec.Dead > 0 {
			spread = spec.Duration // so that the dead time falls inside the transfer
		}
		err := r.shaTransfer(fmt.Sprintf("%s:%d", BalancerAddr, ProxyPort), spec.ShaBytes, spread, 10*time.Minute)
		el := time.Since(start)
		sha.Done = uint64(spec.ShaBytes)
		sha.MBPerSec = float64(spec.ShaBytes) / el.Seconds() / 1e6
		sha.Max = el
		if err != nil {
			sha.Err = fmt.Errorf("%w: %v", ErrExpectation, err)
			sha.Failed = 1
		}
	}()
	var memNote string
	var memErr error
	if spec.Dead > 0 {
		time.Sleep(time.Second)
		atDead := func() {}
		atReturn := func() {}
		if probe != nil {
			atReturn = probe.atReturn
		}
		if queue != nil {
			atDead = queue.atDead
			idleReturn := atReturn
			atReturn = func() { queue.atReturn(); idleReturn() }
		}
		memNote, memErr = r.deadPath(im, x, proxy, spec, atDead, atReturn)
	}
	for i, ld := range loads {
		if ld == nil {
			continue
		}
		ru := &running{kind: "echo", d: spec.Duration, ld: ld, desc: res[i].Load}
		if err := ru.finish(&res[i]); err != nil && res[i].Err == nil {
			res[i].Err = err
		}
		if res[i].Err == nil && res[i].Failed > 0 {
			res[i].Err = fmt.Errorf("%w: %d connections failed on the impaired link", ErrExpectation, res[i].Failed)
		}
		// A message in flight when the path died is answered after it
		// came back: its latency spans the dead time. Without one, the
		// load ended before the connections recovered, and proved nothing.
		if res[i].Err == nil && spec.Dead > 0 && res[i].Max < spec.Dead {
			res[i].Err = fmt.Errorf("%w: no echo crossed the dead time (max latency %v): the load ended before the path recovered", ErrExpectation, res[i].Max)
		}
	}
	wg.Wait()
	im.Set(Impairment{})
	st := im.Stats()
	csum := r.csumErrors() - csumBefore
	note := fmt.Sprintf("impairer: %d packets, %d dropped, %d held back, %d corrupted, %d overruns; TCP checksum errors counted by the receivers: %d",
		st.Packets-statsBefore.Packets, st.Dropped-statsBefore.Dropped, st.Reordered-statsBefore.Reordered,
		st.Corrupted-statsBefore.Corrupted, st.Overruns-statsBefore.Overruns, csum)
	res[0].Note = join(res[0].Note, note)
	if memNote != "" {
		sha.Note = join(sha.Note, memNote)
		if memErr != nil && sha.Err == nil {
			sha.Err = memErr
		}
	}
	if probe != nil {
		res = append(res, probe.result(name, spec.Dead))
	} else if probeErr != nil {
		res = append(res, Result{Scenario: name, Load: "echo servers with an idle timeout", Err: probeErr})
	}
	if queue != nil {
		res = append(res, queue.result(name, spec.QueueConns, spec.QueueSlack))
	} else if queueErr != nil {
		res = append(res, Result{Scenario: name, Load: "a second shardnet proxy", Err: queueErr})
	}
	if x.Corrupt > 0 && st.Corrupted > statsBefore.Corrupted && csum == 0 {
		res[0].Err = fmt.Errorf("%w: %d segments corrupted, no receiver counted a checksum error", ErrExpectation, st.Corrupted-statsBefore.Corrupted)
	}
	return res
}

// deadPath drops every packet for spec.Dead, calling atDead once they
// are, and atReturn before it restores x, sampling the servers' RSS before and during; it reports the figures
// and fails if one grew past spec.MemSlack.
func (r *Rig) deadPath(im *Impairer, x Impairment, proxy *Proc, spec MisbehaveSpec, atDead, atReturn func()) (string, error) {
	procs := map[string]*Proc{"proxy": proxy, "haproxy": r.HAProxy.Proc}
	for i := 1; i <= Backends; i++ {
		procs[fmt.Sprintf("echo b%d", i)] = r.Echo[i].Proc()
	}
	before := map[string]int64{}
	for n, p := range procs {
		before[n], _ = p.RSS()
	}
	dead := x
	dead.Loss = 1
	im.Set(dead)
	atDead()
	peak := map[string]int64{}
	end := time.Now().Add(spec.Dead)
	for time.Now().Before(end) {
		for n, p := range procs {
			if v, err := p.RSS(); err == nil && v > peak[n] {
				peak[n] = v
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	atReturn()
	im.Set(x)
	var parts []string
	var err error
	for _, n := range []string{"proxy", "haproxy", "echo b1", "echo b2", "echo b3"} {
		parts = append(parts, fmt.Sprintf("%s %.1f→%.1f MiB", n, float64(before[n])/(1<<20), float64(peak[n])/(1<<20)))
		if peak[n]-before[n] > spec.MemSlack && err == nil {
			err = fmt.Errorf("%w: %s's RSS grew by %d bytes while the path was dead", ErrExpectation, n, peak[n]-before[n])
		}
	}
	return fmt.Sprintf("path dead for %v; RSS before→peak while dead: %s", spec.Dead, strings.Join(parts, ", ")), err
}

// shaTransfer sends size pseudo-random bytes to an echo service at addr
// from the client namespace while reading the echo, and compares the
// SHA-256 of what went out and what came back, and the counts. With
// spread > 0 the writes are paced to last about that long.
func (r *Rig) shaTransfer(addr string, size int64, spread, timeout time.Duration) error {
	var c net.Conn
	if err := InNS(r.Client, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 10*time.Second)
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		src := io.LimitReader(rand.NewChaCha8([32]byte{19}), size)
		w := io.MultiWriter(c, sent)
		var err error
		if spread > 0 {
			err = pacedCopy(w, src, size, spread)
		} else {
			_, err = io.Copy(w, src)
		}
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got := sha256.New()
	n, rerr := io.Copy(got, c)
	if err := <-werr; err != nil {
		return fmt.Errorf("sending: %v", err)
	}
	if rerr != nil {
		return fmt.Errorf("receiving after %d bytes: %v", n, rerr)
	}
	if n != size || !bytes.Equal(sent.Sum(nil), got.Sum(nil)) {
		return fmt.Errorf("sent %d bytes (sha256 %x), got %d back (sha256 %x)", size, sent.Sum(nil), n, got.Sum(nil))
	}
	return nil
}

// csumErrors is the TCP checksum errors counted in the client and
// balancer namespaces (InCsumErrors in /proc/net/snmp).
func (r *Rig) csumErrors() uint64 {
	var total uint64
	for _, ns := range []string{r.Client, r.Balancer} {
		out, err := r.Exec(ns, "cat", "/proc/net/snmp")
		if err == nil {
			total += snmpField(out, "Tcp:", "InCsumErrors")
		}
	}
	return total
}

// snmpField reads one counter from /proc/net/snmp's text: a header line and
// a value line, both starting with the protocol.
func snmpField(snmp, proto, field string) uint64 {
	var head []string
	for _, line := range strings.Split(snmp, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != proto {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == field && i < len(f) {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				return v
			}
		}
		return 0
	}
	return 0
}

// pacedCopy copies size bytes from src to w in 64 KiB pieces, each no
// earlier than its share of spread.
func pacedCopy(w io.Writer, src io.Reader, size int64, spread time.Duration) error {
	start := time.Now()
	buf := make([]byte, 64<<10)
	var done int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			done += int64(n)
			time.Sleep(time.Until(start.Add(time.Duration(float64(spread) * float64(done) / float64(size)))))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
