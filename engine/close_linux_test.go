package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHalfClose: the client shuts its write side; the server still answers
// what came before, then closes, and the client reads everything and EOF.
func TestHalfClose(t *testing.T) {
	tests := []struct {
		name string
		h    *halfCloseHandler
		// tail is what the server writes after the peer's EOF.
		tail string
	}{
		{name: "default closes after flushing", h: &halfCloseHandler{}},
		{name: "handler writes after EOF", h: &halfCloseHandler{bye: "bye"}, tail: "bye"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.rec = newRecHandler(1)
			_, addr := startEngine(t, tc.h, WithShards(1))
			nc := dialT(t, "tcp", addr)
			msg := bytes.Repeat([]byte("half-close "), 30000) // 330 kB: more than one read
			if _, err := nc.Write(msg); err != nil {
				t.Fatal(err)
			}
			if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(nc) // until the server's EOF
			if err != nil {
				t.Fatalf("read after half-close: %v (got %d bytes)", err, len(got))
			}
			if want := append(msg, tc.tail...); !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d (echo + %q)", len(got), len(want), tc.tail)
			}
			if ev := recvClose(t, tc.h.rec); !errors.Is(ev.reason, ErrPeerClosed) {
				t.Fatalf("OnClose reason %v, want ErrPeerClosed", ev.reason)
			}
		})
	}
}

type halfCloseHandler struct {
	echoHandler
	rec *recHandler
	bye string
}

func (h *halfCloseHandler) OnReadEOF(c *Conn) {
	if h.bye != "" {
		if _, err := c.WriteString(h.bye); err != nil {
			panic(err)
		}
	}
	c.Close()
}

func (h *halfCloseHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// replyHandler answers the first bytes of a connection with a large reply
// and then ends the connection with end, leaving the rest of the input
// unread.
type replyHandler struct {
	BaseHandler
	rec   *recHandler
	reply []byte
	end   func(c *Conn)
	sent  atomic.Bool
}

func (h *replyHandler) OnTraffic(c *Conn) {
	if c.Closed() {
		return
	}
	// Leave the input unread: the close must cope with it.
	if _, err := c.Write(h.reply); err != nil {
		panic(err)
	}
	h.sent.Store(true)
	h.end(c)
}

func (h *replyHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// TestCloseDeliversQueued: Close sends all queued output even though the
// peer sent more that nobody read (a plain close() would reset and lose the
// tail); Abort resets at once.
func TestCloseDeliversQueued(t *testing.T) {
	reply := make([]byte, 8<<20) // far more than the socket buffers hold
	for i := range reply {
		reply[i] = byte(i * 31)
	}
	tests := []struct {
		name       string
		end        func(c *Conn)
		wantReason error
		// wantAll: the client reads the whole reply and then EOF;
		// otherwise it must see ECONNRESET.
		wantAll bool
		opts    []Option
		// stall: the client waits this long before it reads.
		stall time.Duration
	}{
		{name: "Close", end: func(c *Conn) { c.Close() }, wantReason: ErrLocalClose, wantAll: true},
		{name: "Abort", end: func(c *Conn) { c.Abort() }, wantReason: ErrAborted},
		// A close the linger timeout cuts short with the reply still
		// queued must not end in a FIN: the client would take the cut
		// reply for all of it.
		{name: "Close cut by the linger timeout", end: func(c *Conn) { c.Close() }, wantReason: ErrTimeout,
			opts: []Option{WithLingerTimeout(100 * time.Millisecond)}, stall: 500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &replyHandler{rec: newRecHandler(1), reply: reply, end: tc.end}
			_, addr := startEngine(t, h, append([]Option{WithShards(1)}, tc.opts...)...)
			nc := dialT(t, "tcp", addr)
			// A request, then more that the handler will never read,
			// sent while the reply is still queued.
			if _, err := nc.Write([]byte("request")); err != nil {
				t.Fatal(err)
			}
			if !waitFor(5*time.Second, h.sent.Load) {
				t.Fatal("the handler did not reply")
			}
			extra := make(chan error, 1)
			if tc.wantAll {
				go func() {
					_, err := nc.Write(make([]byte, 1<<20))
					extra <- err
				}()
			} else {
				// No concurrent write here: the reset's error is
				// reported once, to whichever call meets it first.
				close(extra)
			}
			time.Sleep(tc.stall)
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(nc)
			if tc.wantAll {
				if err != nil || !bytes.Equal(got, reply) {
					t.Fatalf("read %d of %d bytes, err %v; want all of it and EOF", len(got), len(reply), err)
				}
				if err := <-extra; err != nil {
					t.Fatalf("the unread extra input failed to send: %v", err)
				}
				nc.Close() // the server lingers until this EOF
			} else {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("read after %s: %d of %d bytes, err %v; want ECONNRESET", tc.name, len(got), len(reply), err)
				}
				<-extra // may fail: the connection was reset
			}
			if ev := recvClose(t, h.rec); !errors.Is(ev.reason, tc.wantReason) {
				t.Fatalf("OnClose reason %v, want %v", ev.reason, tc.wantReason)
			}
		})
	}
}

// writerHandler writes without end to its connections (keeping under the
// high watermark by writing more on OnDrained) and echoes what it reads.
type writerHandler struct {
	echoHandler
	rec   *recHandler
	chunk []byte
}

func (h *writerHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if bytes.Equal(b, []byte("flood")) {
		h.fill(c)
		return
	}
	c.Write(b)
}

func (h *writerHandler) OnDrained(c *Conn) { h.fill(c) }

func (h *writerHandler) fill(c *Conn) {
	for c.OutboundBuffered() <= 2<<20 {
		if _, err := c.Write(h.chunk); err != nil {
			return
		}
	}
}

func (h *writerHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// TestPeerResetMidWrite: a client that resets while the server is writing
// to it ends only its own connection, with the socket error as the reason.
func TestPeerResetMidWrite(t *testing.T) {
	h := &writerHandler{rec: newRecHandler(2), chunk: make([]byte, 64<<10)}
	e, addr := startEngine(t, h, WithShards(1))
	other := dialT(t, "tcp", addr)
	victim := dialT(t, "tcp", addr)
	if _, err := victim.Write([]byte("flood")); err != nil {
		t.Fatal(err)
	}
	// Take some of the flood so the server is mid-write, then reset.
	victim.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(victim, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	victim.(*net.TCPConn).SetLinger(0)
	victim.Close()
	ev := recvClose(t, h.rec)
	if !errors.Is(ev.reason, syscall.ECONNRESET) && !errors.Is(ev.reason, syscall.EPIPE) {
		t.Fatalf("OnClose reason %v, want ECONNRESET or EPIPE", ev.reason)
	}
	if !echoCheck(t, other, 1) {
		t.FailNow()
	}
	if p := e.Stats().Shards[0].Panics; p != 0 {
		t.Fatalf("%d panics", p)
	}
}

// panicHandler panics in one callback of its first connection.
type panicHandler struct {
	echoHandler
	rec    *recHandler
	where  string
	victim atomic.Uint64
}

func (h *panicHandler) OnOpen(c *Conn) error {
	if h.victim.CompareAndSwap(0, c.ID()) && h.where == "OnOpen" {
		panic("boom in OnOpen")
	}
	return nil
}

func (h *panicHandler) OnTraffic(c *Conn) {
	if c.ID() == h.victim.Load() && h.where == "OnTraffic" {
		panic("boom in OnTraffic")
	}
	h.echoHandler.OnTraffic(c)
}

func (h *panicHandler) OnReadEOF(c *Conn) {
	if c.ID() == h.victim.Load() && h.where == "OnReadEOF" {
		panic("boom in OnReadEOF")
	}
	c.Close()
}

func (h *panicHandler) heartbeat(c *Conn) {
	if c.ID() == h.victim.Load() && h.where == "heartbeat" {
		panic("boom in heartbeat")
	}
}

func (h *panicHandler) OnDrained(c *Conn) {
	if c.ID() == h.victim.Load() && h.where == "OnDrained" {
		panic("boom in OnDrained")
	}
}

func (h *panicHandler) OnClose(c *Conn, reason error) {
	h.rec.OnClose(c, reason)
	if c.ID() == h.victim.Load() && h.where == "OnClose" {
		panic("boom in OnClose")
	}
}

// TestHandlerPanic: a panic in any of a connection's callbacks aborts that
// connection alone; the shard and its other connections carry on.
func TestHandlerPanic(t *testing.T) {
	tests := []struct {
		name string
		// trigger makes the victim's callback run.
		trigger func(e *Engine, id uint64, nc net.Conn) error
		// wantReason is the victim's close reason.
		wantReason error
	}{
		{name: "OnOpen", trigger: func(*Engine, uint64, net.Conn) error { return nil }},
		{name: "OnTraffic", trigger: func(_ *Engine, _ uint64, nc net.Conn) error {
			_, err := nc.Write([]byte("x"))
			return err
		}},
		{name: "OnReadEOF", trigger: func(_ *Engine, _ uint64, nc net.Conn) error {
			return nc.(*net.TCPConn).CloseWrite()
		}},
		{name: "heartbeat", trigger: func(*Engine, uint64, net.Conn) error { return nil }},
		// 2 KiB passes the 1 KiB high watermark and leaves in one write,
		// so OnDrained runs in the flush that ends the AsyncWrite task,
		// outside any readiness callback.
		{name: "OnDrained", trigger: func(e *Engine, id uint64, _ net.Conn) error {
			hd, ok := e.Conn(id)
			if !ok {
				return ErrUnknownConn
			}
			return hd.AsyncWrite(make([]byte, 2048), nil)
		}},
		{name: "AsyncWrite done", trigger: func(e *Engine, id uint64, _ net.Conn) error {
			hd, ok := e.Conn(id)
			if !ok {
				return ErrUnknownConn
			}
			return hd.AsyncWrite([]byte("x"), func(error) { panic("boom in done") })
		}},
		// OnClose comes after the connection is gone: the panic is only
		// counted, the reason is the ordinary one.
		{name: "OnClose", trigger: func(_ *Engine, _ uint64, nc net.Conn) error {
			return nc.Close()
		}, wantReason: ErrPeerClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &panicHandler{rec: newRecHandler(2), where: tc.name}
			e, addr := startEngine(t, h, WithShards(1), WithWatermarks(512, 1024),
				WithHeartbeat(20*time.Millisecond, h.heartbeat))
			victim, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				// An abort in OnOpen can beat the dialer's own check of
				// the connect, which then reports the reset.
				if tc.name != "OnOpen" || !closedByPeer(err) {
					t.Fatal(err)
				}
			} else {
				t.Cleanup(func() { victim.Close() })
			}
			if !waitFor(5*time.Second, func() bool { return h.victim.Load() != 0 }) {
				t.Fatal("no OnOpen")
			}
			other := dialT(t, "tcp", addr)
			if err := tc.trigger(e, h.victim.Load(), victim); err != nil {
				t.Fatal(err)
			}
			want := tc.wantReason
			if want == nil {
				want = ErrPanic
			}
			ev := recvClose(t, h.rec)
			if ev.id != h.victim.Load() || !errors.Is(ev.reason, want) {
				t.Fatalf("OnClose(%#x, %v); want the victim %#x with %v", ev.id, ev.reason, h.victim.Load(), want)
			}
			if tc.wantReason == nil && victim != nil {
				// Aborted: the client sees the reset (after any bytes
				// sent before it).
				victim.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.Copy(io.Discard, victim); !closedByPeer(err) {
					t.Fatalf("victim read: %v; want reset", err)
				}
			}
			for i := 0; i < 3; i++ {
				if !echoCheck(t, other, i) {
					t.FailNow()
				}
			}
			if p := e.Stats().Shards[0].Panics; p != 1 {
				t.Fatalf("Stats Panics = %d, want 1", p)
			}
			if n := e.Conns(); n != 1 {
				t.Fatalf("Conns() = %d after the abort, want 1", n)
			}
		})
	}
}

// shutHandler answers "bye" with "ok" and a half-close, then counts what
// it still reads.
type shutHandler struct {
	BaseHandler
	rec       *recHandler
	afterShut atomic.Int64
	writeErr  chan error
}

func (h *shutHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) == "bye" {
		c.WriteString("ok")
		c.CloseWrite()
		_, err := c.WriteString("too late")
		h.writeErr <- err
		return
	}
	h.afterShut.Add(int64(len(b)))
}

func (h *shutHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// TestCloseWrite: the server's half-close sends what was queued and then
// EOF, refuses later writes, and goes on reading until the client closes.
func TestCloseWrite(t *testing.T) {
	h := &shutHandler{rec: newRecHandler(1), writeErr: make(chan error, 1)}
	_, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	nc.Write([]byte("bye"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil || string(got) != "ok" {
		t.Fatalf("read %q, %v; want ok and EOF", got, err)
	}
	if err := <-h.writeErr; !errors.Is(err, ErrConnClosed) {
		t.Fatalf("Write after CloseWrite: %v, want ErrConnClosed", err)
	}
	if _, err := nc.Write([]byte("still reading?")); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return h.afterShut.Load() == 14 }) {
		t.Fatalf("server read %d bytes after its half-close, want 14", h.afterShut.Load())
	}
	nc.Close()
	if ev := recvClose(t, h.rec); !errors.Is(ev.reason, ErrPeerClosed) {
		t.Fatalf("OnClose reason %v, want ErrPeerClosed", ev.reason)
	}
}

// rejectHandler refuses every connection from OnOpen, after writing its
// greeting if it has one.
type rejectHandler struct {
	BaseHandler
	rec      *recHandler
	greeting string
}

var errNotToday = errors.New("not today")

func (h rejectHandler) OnOpen(c *Conn) error {
	if h.greeting != "" {
		c.WriteString(h.greeting)
	}
	return errNotToday
}
func (h rejectHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// TestReject: an error from OnOpen closes the connection as Close does:
// what OnOpen wrote first reaches the peer, then EOF, and the close reason
// carries both ErrRejected and the handler's error.
func TestReject(t *testing.T) {
	for _, greeting := range []string{"", "busy, try later\r\n"} {
		t.Run(fmt.Sprintf("greeting %q", greeting), func(t *testing.T) {
			h := rejectHandler{rec: newRecHandler(1), greeting: greeting}
			e, addr := startEngine(t, h, WithShards(1))
			nc := dialT(t, "tcp", addr)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil || string(got) != greeting {
				t.Fatalf("read %q, %v; want %q and EOF", got, err, greeting)
			}
			nc.Close()
			ev := recvClose(t, h.rec)
			if !errors.Is(ev.reason, ErrRejected) || !errors.Is(ev.reason, errNotToday) {
				t.Fatalf("OnClose reason %v; want ErrRejected wrapping the handler's error", ev.reason)
			}
			if n := e.Conns(); n != 0 {
				t.Fatalf("Conns() = %d after the rejection", n)
			}
		})
	}
}

// recvReason waits for h's next OnClose and returns its reason.
func recvReason(t *testing.T, h *recHandler) error {
	t.Helper()
	return recvClose(t, h).reason
}

// TestRejectStats: a rejected connection whose peer closes after reading
// the refusal gets exactly one OnClose wrapping ErrRejected, and the
// shard's counters end balanced (opened == closed, none live).
func TestRejectStats(t *testing.T) {
	h := rejectHandler{rec: newRecHandler(8), greeting: "busy\n"}
	e, addr := startEngine(t, h, WithShards(1))
	for range 5 {
		nc := dialT(t, "tcp", addr)
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil || string(got) != "busy\n" {
			t.Fatalf("read refusal: %q, %v", got, err)
		}
		nc.Close()
		if err := recvReason(t, h.rec); !errors.Is(err, ErrRejected) || !errors.Is(err, errNotToday) {
			t.Fatalf("OnClose reason %v, want ErrRejected wrapping the handler's error", err)
		}
	}
	if !waitFor(2*time.Second, func() bool {
		st := e.Stats().Shards[0]
		return st.Conns == 0 && st.Opened == 5 && st.Closed == 5 && e.Conns() == 0
	}) {
		t.Fatalf("stats after 5 rejections: %+v, Conns() %d", e.Stats().Shards[0], e.Conns())
	}
	select {
	case ev := <-h.rec.closed:
		t.Fatalf("a second OnClose: %v", ev.reason)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestRejectLingerReason: a rejected connection whose peer never closes
// ends at the linger timeout; OnClose's reason still wraps ErrRejected
// and the handler's error, as Handler.OnOpen's doc promises.
func TestRejectLingerReason(t *testing.T) {
	h := rejectHandler{rec: newRecHandler(1), greeting: "busy\n"}
	_, addr := startEngine(t, h, WithShards(1), WithLingerTimeout(200*time.Millisecond))
	dialT(t, "tcp", addr) // never closed until cleanup
	if err := recvReason(t, h.rec); !errors.Is(err, ErrRejected) || !errors.Is(err, errNotToday) {
		t.Fatalf("OnClose reason %v, want ErrRejected wrapping the handler's error", err)
	}
}
