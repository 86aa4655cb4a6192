package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
)

// switchConn is a net.Conn that runs over a real pipe for the handshake
// and then, as the engine's tlsWire does on the loop, over memory: Read
// returns errWouldBlock when nothing is buffered, Write collects.
type switchConn struct {
	net.Conn
	memory bool
	in     bytes.Buffer
	out    bytes.Buffer
}

func (s *switchConn) Read(p []byte) (int, error) {
	if !s.memory {
		return s.Conn.Read(p)
	}
	if s.in.Len() == 0 {
		return 0, errWouldBlock
	}
	return s.in.Read(p)
}

func (s *switchConn) Write(p []byte) (int, error) {
	if !s.memory {
		return s.Conn.Write(p)
	}
	return s.out.Write(p)
}

// TestCryptoTLSKeepsNoTemporaryError pins the one detail of crypto/tls the
// engine's record layer stands on: a read error that is a net.Error with
// Temporary() true is returned and not stored (conn.go, readRecordOrCCS),
// so a tls.Conn.Read that ran out of ciphertext mid-record resumes when
// more arrives. If a Go release changes that, TLS connections on the
// shards would fail at their first partial record: this test fails first.
func TestCryptoTLSKeepsNoTemporaryError(t *testing.T) {
	pki := newTestPKI(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		a, b := net.Pipe()
		cs, ss := &switchConn{Conn: a}, &switchConn{Conn: b}
		srvCfg := pki.server()
		srvCfg.SessionTicketsDisabled = true // nothing after the handshake on the pipe
		cl := tls.Client(cs, pki.client(version))
		srv := tls.Server(ss, srvCfg)
		errc := make(chan error, 1)
		go func() { errc <- srv.Handshake() }()
		if err := cl.Handshake(); err != nil {
			t.Fatalf("client handshake: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("server handshake: %v", err)
		}
		a.Close()
		b.Close()
		cs.memory, ss.memory = true, true

		msg := []byte("a record split in two, then a second record")
		if _, err := cl.Write(msg[:20]); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Write(msg[20:]); err != nil {
			t.Fatal(err)
		}
		wire := cs.out.Bytes()
		half := len(wire) / 4
		ss.in.Write(wire[:half])
		p := make([]byte, 100)
		n, err := srv.Read(p)
		if n != 0 || !errors.Is(err, errWouldBlock) {
			t.Fatalf("version %x: Read over half a record = %d, %v; want 0 and the temporary error itself", version, n, err)
		}
		ss.in.Write(wire[half:])
		var got []byte
		for len(got) < len(msg) {
			n, err = srv.Read(p)
			if err != nil {
				t.Fatalf("version %x: Read after the rest arrived = %v: crypto/tls stored the temporary error, "+
					"and the engine's TLS record layer (tlsWire, readRecordOrCCS) no longer works with this Go release", version, err)
			}
			got = append(got, p[:n]...)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("version %x: read %q, want %q", version, got, msg)
		}
		// And with nothing left, the temporary error again, not EOF.
		if _, err := srv.Read(p); !errors.Is(err, errWouldBlock) {
			t.Fatalf("version %x: Read with nothing buffered = %v, want the temporary error", version, err)
		}
	}
}

func TestRecordCursorStopsAtRecordEnds(t *testing.T) {
	// Three records: 3-byte body, empty body, 2-byte body.
	stream := []byte{23, 3, 3, 0, 3, 'a', 'b', 'c', 23, 3, 3, 0, 0, 23, 3, 3, 0, 2, 'd', 'e'}
	for _, tc := range []struct {
		name  string
		chunk int
		want  []int // lengths take returns, in order
	}{
		{"whole stream at once", 100, []int{8, 5, 7}},
		{"a byte at a time", 1, nil},
		{"chunks of 4", 4, []int{4, 4, 4, 1, 4, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rc recordCursor
			var got []int
			var ends []int
			pos := 0
			for pos < len(stream) {
				n := rc.take(stream[pos:min(pos+tc.chunk, len(stream))])
				if n == 0 {
					t.Fatalf("take returned 0 at %d", pos)
				}
				got = append(got, n)
				pos += n
				if rc.hdrN == 0 {
					ends = append(ends, pos)
				}
			}
			if want := []int{8, 13, 20}; !equalInts(ends, want) {
				t.Fatalf("record ends at %v, want %v", ends, want)
			}
			if tc.want != nil && !equalInts(got, tc.want) {
				t.Fatalf("take lengths %v, want %v", got, tc.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzRecordCursor feeds a byte stream to recordCursor in chunks of the
// fuzzer's sizes and checks it against a simple model: the record ends it
// reports are exactly those found by walking the headers, take never
// hands over bytes past one, and it always takes at least one byte.
func FuzzRecordCursor(f *testing.F) {
	f.Add([]byte{23, 3, 3, 0, 3, 'a', 'b', 'c', 23, 3, 3, 0, 0}, []byte{1, 4, 100})
	f.Add([]byte{22, 3, 1, 0, 1, 'x'}, []byte{2})
	f.Fuzz(func(t *testing.T, stream, chunks []byte) {
		// The model: every record end within the stream.
		want := map[int]bool{}
		for pos := 0; pos+recordHeaderLen <= len(stream); {
			pos += recordHeaderLen + (int(stream[pos+3])<<8 | int(stream[pos+4]))
			if pos <= len(stream) {
				want[pos] = true
			}
		}
		var rc recordCursor
		pos, k := 0, 0
		for pos < len(stream) {
			size := 1
			if len(chunks) > 0 {
				size = int(chunks[k%len(chunks)]) + 1
				k++
			}
			n := rc.take(stream[pos:min(pos+size, len(stream))])
			if n < 1 {
				t.Fatalf("take returned %d at %d", n, pos)
			}
			for i := pos + 1; i < pos+n; i++ {
				if want[i] {
					t.Fatalf("take at %d handed over %d bytes, past the record end at %d", pos, n, i)
				}
			}
			pos += n
			if (rc.hdrN == 0) != want[pos] {
				t.Fatalf("at %d: cursor says end=%v, model says %v", pos, rc.hdrN == 0, want[pos])
			}
		}
	})
}
