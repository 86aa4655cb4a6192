package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// seqAnswerer answers each byte read with one frame sent through Writev: a
// 4-byte sequence number and a payload. It records whether a frame that
// went out alone (nothing queued, no input left, the callback's first
// write) met a full socket and had its rest queued.
type seqAnswerer struct {
	BaseHandler
	payload   []byte
	seq       uint32
	hdr       [4]byte
	shortLone atomic.Bool
}

func (h *seqAnswerer) OnTraffic(c *Conn) {
	for c.Buffered() > 0 {
		_, _ = c.Next(1)
		lone := c.OutboundBuffered() == 0 && c.Buffered() == 0 && c.flags&flagDirty == 0
		binary.BigEndian.PutUint32(h.hdr[:], h.seq)
		h.seq++
		if _, err := c.Writev([][]byte{h.hdr[:], h.payload}); err != nil {
			c.Abort()
			return
		}
		if lone && c.OutboundBuffered() > 0 {
			h.shortLone.Store(true)
		}
	}
}

// TestWritevAloneShortWrite: a small Writev sent alone that the socket
// takes only in part (or not at all) has its rest queued, and the peer,
// once it reads, gets every frame whole and in order. The peer does not
// read until a lone frame has met the full socket; both of writevAlone's
// ways are covered (gathered into one write, and a writev of the caller's
// slices).
func TestWritevAloneShortWrite(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{name: "gathered into one write", size: 300},
		{name: "writev of the caller's slices", size: 3000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &seqAnswerer{payload: bytes.Repeat([]byte{'q'}, tc.size)}
			_, addr := startEngine(t, h, WithShards(1), WithSocketBuffers(4096, 0))
			d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
				})
				if err != nil {
					return err
				}
				return serr
			}}
			nc, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			// One request at a time, each read on its own, so that each
			// answer goes out alone, until one meets the full socket.
			sent := 0
			for ; sent < 2000 && !h.shortLone.Load(); sent++ {
				if _, err := nc.Write([]byte{1}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			if !h.shortLone.Load() {
				t.Fatalf("no lone answer met a full socket in %d requests", sent)
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			frame := make([]byte, 4+tc.size)
			for i := range sent {
				if _, err := io.ReadFull(nc, frame); err != nil {
					t.Fatalf("frame %d of %d: %v", i, sent, err)
				}
				if seq := binary.BigEndian.Uint32(frame); seq != uint32(i) || !bytes.Equal(frame[4:], h.payload) {
					t.Fatalf("frame %d: sequence %d, payload intact %v", i, seq, bytes.Equal(frame[4:], h.payload))
				}
			}
		})
	}
}
