package netlab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Impairment is what happens to every packet crossing the client's link,
// in each direction, as netem would do it.
type Impairment struct {
	Delay, Jitter time.Duration // each packet waits Delay ± Jitter (uniform), and no less than the one before it
	Loss          float64       // share dropped (1: the path is dead)
	Reorder       float64       // share held ReorderHold longer than the rest
	ReorderHold   time.Duration
	Corrupt       float64 // share with one byte of the TCP segment flipped
}

// String says it netem's way.
func (im Impairment) String() string {
	var parts []string
	if im.Delay > 0 {
		parts = append(parts, fmt.Sprintf("delay %v ± %v", im.Delay, im.Jitter))
	}
	if im.Loss > 0 {
		parts = append(parts, fmt.Sprintf("loss %g%%", im.Loss*100))
	}
	if im.Reorder > 0 {
		parts = append(parts, fmt.Sprintf("reorder %g%% (held %v)", im.Reorder*100, im.ReorderHold))
	}
	if im.Corrupt > 0 {
		parts = append(parts, fmt.Sprintf("corrupt %g%%", im.Corrupt*100))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ImpairStats counts what the impairer did.
type ImpairStats struct {
	Packets, Dropped, Reordered, Corrupted, Overruns uint64
}

// Impairer holds the client link's packets in user space and applies an
// Impairment. Each direction is queued where it arrives (an NFQUEUE rule
// on INPUT in the client namespace, and one in the balancer namespace):
// a packet held on the sender's side would still count against its
// socket's TCP small-queue budget, which would throttle the flow to a
// couple of packets per delay, as netem avoids by orphaning the packets
// it holds.
type Impairer struct {
	lab   *Lab
	sides []*side
	cur   atomic.Pointer[Impairment]
	quit  atomic.Bool
	wg    sync.WaitGroup // verdicts still held by timers and the FIFOs

	packets, dropped, reordered, corrupted, overruns atomic.Uint64
}

// side is one receiving end's queue.
type side struct {
	ns, dev string
	q       *nfqueue
	done    chan struct{}
	fifo    chan held // delayed packets, in order, for release
	lastDue time.Time // the last release time given to the FIFO; loop only
}

// rule is the iptables rule that queues what arrives on dev.
func (s *side) rule() []string {
	return []string{"INPUT", "-i", s.dev, "-j", "NFQUEUE", "--queue-num", "0"}
}

// Impair starts the impairer with no impairment; Set changes it. Checksum
// offload is turned off on both ends of the client link, so a corrupted
// segment is checked (and rejected) by the receiver's TCP; the veth would
// otherwise mark it as verified.
func (l *Lab) Impair() (*Impairer, error) {
	im := &Impairer{lab: l}
	im.cur.Store(&Impairment{})
	for _, sd := range []*side{{ns: l.Client, dev: ClientDev}, {ns: l.Balancer, dev: BalancerDevToCl}} {
		if _, err := l.Exec(sd.ns, "ethtool", "-K", sd.dev, "rx", "off", "tx", "off"); err != nil {
			im.Close()
			return nil, err
		}
		if err := InNS(sd.ns, func() error {
			var err error
			sd.q, err = openNFQueue(0)
			return err
		}); err != nil {
			im.Close()
			return nil, fmt.Errorf("%w: nfnetlink_queue: %v", ErrUnavailable, err)
		}
		sd.done, sd.fifo = make(chan struct{}), make(chan held, 1<<16)
		im.sides = append(im.sides, sd)
		go im.loop(sd)
		go im.release(sd)
		if _, err := l.Exec(sd.ns, append([]string{"iptables", "-A"}, sd.rule()...)...); err != nil {
			im.Close()
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return im, nil
}

// Set changes the impairment for the packets that arrive from now on.
func (im *Impairer) Set(x Impairment) { im.cur.Store(&x) }

// Stats are the counts so far.
func (im *Impairer) Stats() ImpairStats {
	return ImpairStats{im.packets.Load(), im.dropped.Load(), im.reordered.Load(), im.corrupted.Load(), im.overruns.Load()}
}

// Close removes the rules (packets flow unimpaired again), lets the held
// packets go, and closes the queues.
func (im *Impairer) Close() {
	for _, sd := range im.sides {
		_, _ = im.lab.Exec(sd.ns, append([]string{"iptables", "-D"}, sd.rule()...)...)
	}
	im.Set(Impairment{})
	im.quit.Store(true)
	for _, sd := range im.sides {
		<-sd.done
		close(sd.fifo)
	}
	im.wg.Wait()
	for _, sd := range im.sides {
		sd.q.close()
	}
	im.sides = nil
}

// loop reads one side's packets and decides each one's fate until Close.
func (im *Impairer) loop(sd *side) {
	defer close(sd.done)
	buf := make([]byte, 1<<20)
	for !im.quit.Load() {
		pkts, err := sd.q.read(buf)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			im.overruns.Add(1) // the kernel dropped what did not fit
			continue
		case err != nil:
			return
		}
		for _, p := range pkts {
			im.handle(sd, p)
		}
	}
}

// handle applies the current impairment to one packet. The payload
// points into the read buffer: whatever is kept past this call is copied.
func (im *Impairer) handle(sd *side, p packet) {
	im.packets.Add(1)
	x := im.cur.Load()
	if x.Loss > 0 && rand.Float64() < x.Loss {
		im.dropped.Add(1)
		_ = sd.q.verdict(p.id, false, nil)
		return
	}
	var payload []byte
	if x.Corrupt > 0 && rand.Float64() < x.Corrupt {
		if b, ok := corruptSegment(p.payload); ok {
			payload = b
			im.corrupted.Add(1)
		}
	}
	wait := x.Delay
	if x.Jitter > 0 {
		wait += time.Duration(rand.Int64N(int64(2*x.Jitter)+1)) - x.Jitter
	}
	if x.Reorder > 0 && rand.Float64() < x.Reorder {
		// Held past the packets behind it: those overtake it.
		im.reordered.Add(1)
		im.wg.Add(1)
		time.AfterFunc(wait+x.ReorderHold, func() {
			defer im.wg.Done()
			_ = sd.q.verdict(p.id, true, payload)
		})
		return
	}
	if wait <= 0 && len(sd.fifo) == 0 {
		_ = sd.q.verdict(p.id, true, payload)
		return
	}
	// Delayed packets leave in the order they came: a packet that drew a
	// shorter delay than the one before it waits for it (as netem with a
	// FIFO child qdisc does), so jitter varies the delay without
	// reordering; reordering is its own impairment.
	due := time.Now().Add(wait)
	if due.Before(sd.lastDue) {
		due = sd.lastDue
	}
	sd.lastDue = due
	im.wg.Add(1)
	sd.fifo <- held{id: p.id, payload: payload, due: due}
}

// held is a delayed packet waiting in the FIFO.
type held struct {
	id      uint32
	payload []byte
	due     time.Time
}

// release gives one side's FIFO packets their verdicts at their due times.
func (im *Impairer) release(sd *side) {
	for h := range sd.fifo {
		time.Sleep(time.Until(h.due))
		_ = sd.q.verdict(h.id, true, h.payload)
		im.wg.Done()
	}
}

// corruptSegment returns a copy of an IPv4 packet with one byte of its
// TCP segment (header or data) inverted, so that the receiver's checksum
// fails, or false for what is not IPv4 TCP.
func corruptSegment(ip []byte) ([]byte, bool) {
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != unix.IPPROTO_TCP {
		return nil, false
	}
	hl := int(ip[0]&0x0f) * 4
	if hl < 20 || hl >= len(ip) {
		return nil, false
	}
	b := append([]byte(nil), ip...)
	i := hl + rand.IntN(len(b)-hl)
	b[i] ^= 0xff
	return b, true
}
