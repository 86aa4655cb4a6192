package engine

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/trace"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Diagnostics of BenchmarkTLSHandshakeFlood's fixed-rate phase (issue 16,
// tls-16h): where a message's 15-40 ms goes. All are off unless their
// variable is set in the benchmark's environment.
const (
	// floodLatLogEnv is a path prefix: the fixed-rate phases tag their
	// messages; the client writes PREFIX.client (per message: when it was
	// due, when its Write began and returned, when its echo was read) and
	// the server PREFIX.server (when each tagged message reached the echo
	// handler, on which thread, and when its Write returned), each with
	// the process's GC pauses, all in wall-clock ns so the two line up.
	floodLatLogEnv = "SHARDNET_FLOOD_LATLOG"
	// floodServerGodebugEnv is the server child's GODEBUG alone (e.g.
	// gctrace=1), so its GC lines are the only ones on stderr.
	floodServerGodebugEnv = "SHARDNET_FLOOD_SERVER_GODEBUG"
	// floodTraceEnv is a path prefix: the server writes a runtime trace
	// of the flooded fixed-rate phase to PREFIX.server, the client (this
	// process) to PREFIX.client.
	floodTraceEnv = "SHARDNET_FLOOD_TRACE"
	// floodBenchMaxEnv replaces the server's WithMaxHandshakes (4096):
	// the most handshakes a drained backlog can start at once.
	floodBenchMaxEnv = "SHARDNET_FLOOD_BENCH_MAX_HANDSHAKES"
)

// latTag marks a tagged message: latTag, phase, connection index, then
// the message's index, big-endian, at 8.
const latTag = "LAT1"

// tagMessage writes the tag of message i of connection k in phase into
// msg.
func tagMessage(msg []byte, phase, k, i int) {
	copy(msg, latTag)
	msg[4], msg[5] = byte(phase), byte(k)
	binary.BigEndian.PutUint64(msg[8:16], uint64(i))
}

// clientLat is one tagged message as the client saw it (Unix ns).
type clientLat struct {
	phase, k, i              int
	due, wrote0, wrote1, got int64
}

// clientLatLog gathers the client's records of both fixed-rate phases.
type clientLatLog struct {
	mu   sync.Mutex
	recs []clientLat
}

func (l *clientLatLog) add(recs []clientLat) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.recs = append(l.recs, recs...)
	l.mu.Unlock()
}

// write writes the records, the phases' bounds and this process's GC
// pauses to path.
func (l *clientLatLog) write(path string, marks map[string]time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for name, t := range marks {
		fmt.Fprintf(w, "mark %s %d\n", name, t.UnixNano())
	}
	for _, r := range l.recs {
		fmt.Fprintf(w, "msg %d %d %d %d %d %d %d\n", r.phase, r.k, r.i, r.due, r.wrote0, r.wrote1, r.got)
	}
	writeGCPauses(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeGCPauses writes the process's recorded GC pauses (end, length).
func writeGCPauses(w *bufio.Writer) {
	var st debug.GCStats
	st.Pause = make([]time.Duration, 0, 1024)
	debug.ReadGCStats(&st)
	fmt.Fprintf(w, "numgc %d pausetotal %d\n", st.NumGC, st.PauseTotal)
	for j := range st.Pause {
		if j < len(st.PauseEnd) {
			fmt.Fprintf(w, "gcpause %d %d\n", st.PauseEnd[j].UnixNano(), st.Pause[j])
		}
	}
}

// serverLat is one tagged message as the server's echo handler saw it.
type serverLat struct {
	phase, k, i, n, tid int
	in, out             int64
}

// latEchoHandler is echoHandler that records each tagged message.
type latEchoHandler struct {
	echoHandler
	mu   *sync.Mutex
	recs *[]serverLat
}

func (h latEchoHandler) OnTraffic(c *Conn) {
	in := time.Now().UnixNano()
	b, _ := c.Next(c.Buffered())
	// After a stall many messages arrive in one read: every one is
	// recorded (the tail is made of those), straight into the shared
	// slice, so the handler allocates nothing of its own.
	h.mu.Lock()
	first := len(*h.recs)
	for off := 0; off+16 <= len(b); off += 1024 {
		if string(b[off:off+4]) == latTag {
			*h.recs = append(*h.recs, serverLat{phase: int(b[off+4]), k: int(b[off+5]), i: int(binary.BigEndian.Uint64(b[off+8 : off+16])), n: len(b), in: in})
		}
	}
	last := len(*h.recs)
	h.mu.Unlock()
	_, _ = c.Write(b)
	if last == first {
		return
	}
	out, tid := time.Now().UnixNano(), syscall.Gettid()
	h.mu.Lock()
	for j := first; j < last; j++ {
		(*h.recs)[j].out, (*h.recs)[j].tid = out, tid
	}
	h.mu.Unlock()
}

// writeServerLat writes the server's records and GC pauses to path.
func writeServerLat(path string, recs []serverLat) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "pid %d\n", os.Getpid())
	for _, r := range recs {
		fmt.Fprintf(w, "srv %d %d %d %d %d %d %d\n", r.phase, r.k, r.i, r.n, r.tid, r.in, r.out)
	}
	writeGCPauses(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// floodTracer starts and stops a runtime trace to a file.
type floodTracer struct {
	f *os.File
}

func (t *floodTracer) start(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return err
	}
	t.f = f
	return nil
}

func (t *floodTracer) stop() error {
	if t.f == nil {
		return nil
	}
	trace.Stop()
	err := t.f.Close()
	t.f = nil
	return err
}

// schedSample is one reading of a thread's /proc schedstat: ns on the
// CPU, ns waiting on a run queue.
type schedSample struct {
	at         int64
	pid, tid   int
	run, delay int64
}

// sampleSched reads the schedstat of every thread of each pid every
// period until stop is closed, and returns the samples.
func sampleSched(pids []int, period time.Duration, stop <-chan struct{}) []schedSample {
	var out []schedSample
	// The kernel's softirq threads too: the flood's packets are processed
	// there when the interrupted tasks cannot keep up.
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.HasPrefix(string(b), "ksoftirqd/") {
			var pid int
			if _, err := fmt.Sscan(filepath.Base(filepath.Dir(c)), &pid); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	tk := time.NewTicker(period)
	defer tk.Stop()
	for {
		at := time.Now().UnixNano()
		for _, pid := range pids {
			dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
			for _, d := range dirs {
				b, err := os.ReadFile(d + "/schedstat")
				if err != nil {
					continue
				}
				var s schedSample
				if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &s.run, &s.delay); err != nil {
					continue
				}
				fmt.Sscan(filepath.Base(d), &s.tid)
				s.at, s.pid = at, pid
				out = append(out, s)
			}
		}
		select {
		case <-stop:
			return out
		case <-tk.C:
		}
	}
}

// writeSched writes schedstat samples to path.
func writeSched(path string, samples []schedSample, roles map[int]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for pid, role := range roles {
		fmt.Fprintf(w, "role %d %s\n", pid, role)
	}
	for _, s := range samples {
		fmt.Fprintf(w, "ss %d %d %d %d %d\n", s.at, s.pid, s.tid, s.run, s.delay)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
