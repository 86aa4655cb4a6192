package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	var b Bytes
	if b.Buffered() != 0 {
		t.Fatal("zero value not empty")
	}
	if _, err := b.Peek(1); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Peek past the end: %v", err)
	}
	b.Write([]byte("hello "))
	b.Writev([][]byte{[]byte("wor"), []byte("ld")})
	p, err := b.Peek(5)
	if err != nil || string(p) != "hello" {
		t.Fatalf("Peek = %q, %v", p, err)
	}
	b.Write(bytes.Repeat([]byte("!"), 10000)) // may reallocate
	if string(p) != "hello" {
		t.Fatal("a Write changed bytes peeked before it")
	}
	if n, err := b.Discard(6); n != 6 || err != nil {
		t.Fatalf("Discard = %d, %v", n, err)
	}
	if !strings.HasPrefix(string(b.Bytes()), "world!") || b.Buffered() != 10005 {
		t.Fatalf("after Discard: %q…, %d buffered", b.Bytes()[:6], b.Buffered())
	}
	// A Write that needs room moves only the unread bytes to new memory,
	// dropping the consumed ones and leaving an outstanding peek intact.
	b.Discard(9000)
	p, _ = b.Peek(5)
	oldCap := cap(b.buf)
	b.Write(bytes.Repeat([]byte("?"), oldCap))
	if b.off != 0 || b.Buffered() != 1005+oldCap || string(p) != "!!!!!" || &p[0] == &b.Bytes()[0] {
		t.Fatalf("no compaction: off=%d buffered=%d peek %q", b.off, b.Buffered(), p)
	}
	b.Reset()
	b.Write(bytes.Repeat([]byte("!"), 1005))
	if n, err := b.Discard(2000); n != 1005 || !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Discard past the end = %d, %v", n, err)
	}
	if _, err := b.Discard(-1); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Discard(-1): %v", err)
	}
	b.Write([]byte("x"))
	if b.off != 0 || string(b.Bytes()) != "x" {
		t.Fatal("Write after draining did not reuse the front")
	}
	b.Reset()
	if b.Buffered() != 0 {
		t.Fatal("Reset left bytes")
	}
}

// Decoders that do not know a frame's length up front peek a small window
// and widen it only for a long frame, so with 256 KiB of small pipelined
// frames buffered they never ask a (possibly copying) Source for all of it.
func TestDecodersPeekLittle(t *testing.T) {
	resp, _ := NewRESPDecoder(RESPLimits{})
	httpd, _ := NewHTTPDecoder(HTTPLimits{})
	var c Command
	var req Request
	var chunked ChunkedBody
	chunked.Reset(1 << 30)
	tests := []struct {
		name  string
		frame []byte
		dec   decodeFunc
		bound int
	}{
		{name: "resp", frame: cmd("SET", "k", "v"), bound: firstWindow, dec: func(s Source) ([]byte, int, error) {
			n, err := resp.Decode(s, &c)
			return nil, n, err
		}},
		{name: "resp values", frame: AppendInt(nil, 7), bound: firstWindow, dec: func(s Source) ([]byte, int, error) {
			_, n, err := resp.DecodeValue(s)
			return nil, n, err
		}},
		{name: "http", frame: []byte(wrkGet), bound: firstWindow, dec: func(s Source) ([]byte, int, error) {
			n, err := httpd.Decode(s, &req)
			return nil, n, err
		}},
		{name: "line", frame: []byte("PING\r\n"), bound: firstWindow, dec: NewLine(1 << 20).Decode},
		{name: "chunks", frame: AppendChunk(nil, []byte("abc")), bound: maxChunkLine + 16, dec: func(s Source) ([]byte, int, error) {
			_, n, err := chunked.Decode(s)
			return nil, n, err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &strictSource{t: t}
			for src.Buffered() < 256<<10 {
				src.Write(tc.frame)
			}
			for src.Buffered() > 0 {
				_, n, err := tc.dec(src)
				if err != nil {
					t.Fatal(err)
				}
				src.Discard(n)
			}
			if src.maxPeek > tc.bound {
				t.Fatalf("largest Peek %d bytes, want at most %d", src.maxPeek, tc.bound)
			}
		})
	}
}

// The fuzz targets' allocation check must see an allocation the size of a
// declared length, or it proves nothing.
func TestAllocatedBySeesLargeAllocation(t *testing.T) {
	var keep []byte
	if got := allocatedBy(func() { keep = make([]byte, 1<<20) }); got < 1<<20 {
		t.Fatalf("allocatedBy saw %d bytes of a 1 MiB allocation", got)
	}
	if len(keep) != 1<<20 {
		t.Fatal("allocation vanished")
	}
}
