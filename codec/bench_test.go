package codec

import (
	"bytes"
	"fmt"
	"testing"
)

var benchSizes = []int{64, 1024, 64 << 10}

// benchDecode decodes the one frame in wire b.N times, rewinding the source
// instead of refilling it, so only the decoder is measured.
func benchDecode(b *testing.B, dec decodeFunc, wire []byte, frameLen int) {
	b.Helper()
	src := NewBytes(wire)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		src.off = 0
		f, n, err := dec(src)
		if err != nil || n != len(wire) || len(f) != frameLen {
			b.Fatalf("decode: %d bytes, n=%d, %v", len(f), n, err)
		}
	}
}

func BenchmarkLengthField(b *testing.B) {
	lf, _ := NewLengthField(LengthFieldConfig{MaxFrameLength: 1 << 20, InitialBytesToStrip: 4})
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			wire, _ := lf.AppendFrame(nil, nil, bytes.Repeat([]byte("x"), size))
			benchDecode(b, lf.Decode, wire, size)
		})
	}
}

func BenchmarkLengthFieldEncode(b *testing.B) {
	lf, _ := NewLengthField(LengthFieldConfig{MaxFrameLength: 1 << 20})
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), size)
			var sink Bytes
			b.ReportAllocs()
			b.SetBytes(int64(size + 4))
			for b.Loop() {
				sink.Reset()
				if err := lf.Encode(&sink, nil, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLine(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			d := NewLine(1 << 20)
			wire := append(bytes.Repeat([]byte("x"), size), "\r\n"...)
			benchDecode(b, d.Decode, wire, size)
		})
	}
}

func BenchmarkDelimiter(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			d, _ := NewDelimiter([]byte("\r\n\r\n"), 1<<20, false)
			// "xy\r" never holds the delimiter, nor does it with the next copy.
			wire := append(bytes.Repeat([]byte("xy\r"), size/3), "\r\n\r\n"...)
			benchDecode(b, d.Decode, wire, size/3*3)
		})
	}
}

// BenchmarkLineTrickle measures a 64 KiB line arriving in 1 KiB reads: the
// cost of waiting, which incremental scanning keeps linear.
func BenchmarkLineTrickle(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 64<<10), '\n')
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	src := &Bytes{buf: make([]byte, 0, len(line))}
	for b.Loop() {
		d := Delimiter{delim: []byte{'\n'}, max: 1 << 20, line: true}
		src.Reset()
		for off := 0; ; off += 1024 {
			src.Write(line[off:min(off+1024, len(line))])
			if _, n, err := d.Decode(src); err == nil {
				src.Discard(n)
				break
			}
		}
	}
}

func BenchmarkFixed(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			f, _ := NewFixed(size)
			benchDecode(b, f.Decode, bytes.Repeat([]byte("x"), size), size)
		})
	}
}

func BenchmarkHTTPRequest(b *testing.B) {
	requests := []struct {
		name string
		wire string
	}{
		{name: "wrk", wire: wrkGet},
		{name: "ab", wire: "GET / HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"},
		{name: "browser", wire: "GET /static/app.js?v=12 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
			"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nReferer: https://www.example.com/\r\n" +
			"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\nConnection: keep-alive\r\nSec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\n\r\n"},
	}
	d, _ := NewHTTPDecoder(HTTPLimits{})
	for _, r := range requests {
		b.Run(r.name, func(b *testing.B) {
			src := NewBytes([]byte(r.wire))
			var req Request
			b.ReportAllocs()
			b.SetBytes(int64(len(r.wire)))
			for b.Loop() {
				src.off = 0
				if n, err := d.Decode(src, &req); err != nil || n != len(r.wire) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func BenchmarkChunkedBody(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			wire := AppendLastChunk(AppendChunk(nil, bytes.Repeat([]byte("x"), size)))
			src := NewBytes(wire)
			var c ChunkedBody
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				src.off = 0
				c.Reset(1 << 20)
				for !c.Done() {
					_, n, err := c.Decode(src)
					if err != nil {
						b.Fatal(err)
					}
					src.Discard(n)
				}
			}
		})
	}
}

func BenchmarkRESPCommand(b *testing.B) {
	d, _ := NewRESPDecoder(RESPLimits{})
	cases := []struct {
		name string
		wire []byte
	}{
		{name: "inline-ping", wire: []byte("PING\r\n")},
		{name: "get", wire: cmd("GET", "key:__rand_int__")},
	}
	for _, size := range benchSizes {
		cases = append(cases, struct {
			name string
			wire []byte
		}{name: fmt.Sprintf("set/size=%d", size), wire: cmd("SET", "key:__rand_int__", string(bytes.Repeat([]byte("x"), size)))})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			src := NewBytes(tc.wire)
			var c Command
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.wire)))
			for b.Loop() {
				src.off = 0
				if n, err := d.Decode(src, &c); err != nil || n != len(tc.wire) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmd/s")
		})
	}
}

func BenchmarkRESPReply(b *testing.B) {
	val := bytes.Repeat([]byte("x"), 64)
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out = AppendSimpleString(out[:0], "OK")
		out = AppendInt(out, 12345)
		out = AppendBulk(out, val)
		out = AppendNull(out)
	}
	b.SetBytes(int64(len(out)))
}
