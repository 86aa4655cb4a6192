package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// dumpRequest renders what Decode found, for comparing requests.
func dumpRequest(r *Request) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s 1.%d cl=%d chunked=%v ka=%v expect=%v", r.Method, r.Target, r.Minor, r.ContentLength, r.Chunked, r.KeepAlive, r.ExpectContinue)
	for _, h := range r.Headers() {
		fmt.Fprintf(&sb, " [%s=%s]", h.Name, h.Value)
	}
	return sb.String()
}

// httpDecoder adapts HTTPDecoder to decodeFunc, treating a request head and
// its Content-Length body as one frame: the dump, then the body.
func httpDecoder(d *HTTPDecoder) decodeFunc {
	var req Request
	return func(src Source) ([]byte, int, error) {
		n, err := d.Decode(src, &req)
		if err != nil {
			return nil, 0, err
		}
		out := []byte(dumpRequest(&req))
		if req.ContentLength > 0 {
			total := n + int(req.ContentLength)
			if src.Buffered() < total {
				return nil, 0, ErrNeedMore
			}
			b, _ := src.Peek(total)
			out = append(append(out, " body="...), b[n:]...)
			n = total
		}
		return out, n, nil
	}
}

const wrkGet = "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/plain,text/html;q=0.9\r\nConnection: keep-alive\r\n\r\n"

func TestHTTPDecode(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want []string
	}{
		{name: "wrk get", wire: wrkGet, want: []string{"GET /plaintext 1.1 cl=0 chunked=false ka=true expect=false [Host=localhost:8080] [Accept=text/plain,text/html;q=0.9] [Connection=keep-alive]"}},
		{name: "ab http/1.0", wire: "GET / HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n", want: []string{"GET / 1.0 cl=0 chunked=false ka=false expect=false [Host=127.0.0.1:8080] [User-Agent=ApacheBench/2.3] [Accept=*/*]"}},
		{name: "ab -k keep-alive", wire: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n", want: []string{"GET / 1.0 cl=0 chunked=false ka=true expect=false [Connection=Keep-Alive] [Host=h]"}},
		{name: "1.1 close", wire: "GET / HTTP/1.1\r\nhost: h\r\nconnection: Upgrade, CLOSE\r\n\r\n", want: []string{"GET / 1.1 cl=0 chunked=false ka=false expect=false [host=h] [connection=Upgrade, CLOSE]"}},
		{name: "curl post with expect", wire: "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", want: []string{"POST /up 1.1 cl=5 chunked=false ka=true expect=true [Host=h] [Content-Length=5] [Expect=100-continue] body=hello"}},
		{name: "chunked", wire: "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", want: []string{"PUT / 1.1 cl=-1 chunked=true ka=true expect=false [Host=h] [Transfer-Encoding=chunked]"}},
		{name: "repeated equal content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: []string{"POST / 1.1 cl=2 chunked=false ka=true expect=false [Host=h] [Content-Length=2] [Content-Length=2] body=ok"}},
		{name: "pipelined", wire: wrkGet + "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", want: []string{
			"GET /plaintext 1.1 cl=0 chunked=false ka=true expect=false [Host=localhost:8080] [Accept=text/plain,text/html;q=0.9] [Connection=keep-alive]",
			"POST /a 1.1 cl=3 chunked=false ka=true expect=false [Host=h] [Content-Length=3] body=xyz",
			"GET /b 1.1 cl=0 chunked=false ka=true expect=false [Host=h]",
		}},
		{name: "leading empty lines and bare LF", wire: "\r\n\nGET /x HTTP/1.1\nHost: h\n\n", want: []string{"GET /x 1.1 cl=0 chunked=false ka=true expect=false [Host=h]"}},
		{name: "value whitespace trimmed, empty value", wire: "GET / HTTP/1.1\r\nHost:h\r\nX-Empty:\r\nX-Pad: \t a b \t\r\n\r\n", want: []string{"GET / 1.1 cl=0 chunked=false ka=true expect=false [Host=h] [X-Empty=] [X-Pad=a b]"}},
		{name: "absolute form and obs-text", wire: "OPTIONS http://h/\xc3\xa9 HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", want: []string{"OPTIONS http://h/\xc3\xa9 1.1 cl=0 chunked=false ka=true expect=false [Host=h] [X=caf\xc3\xa9]"}},
	}
	d, _ := NewHTTPDecoder(HTTPLimits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want [][]byte
			for _, w := range tc.want {
				want = append(want, []byte(w))
			}
			checkSplits(t, httpDecoder(d), []byte(tc.wire), want)
		})
	}
}

func TestHTTPDecodeErrors(t *testing.T) {
	small := HTTPLimits{MaxRequestLine: 32, MaxHeaderBytes: 64, MaxHeaders: 2, MaxBody: 100}
	tests := []struct {
		name    string
		lim     HTTPLimits
		wire    string
		wantErr []error
		status  int
	}{
		{name: "cl and te", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: []error{ErrMalformed, ErrAmbiguousLength}, status: 400},
		{name: "te and cl", wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", wantErr: []error{ErrMalformed, ErrAmbiguousLength}, status: 400},
		{name: "differing content-lengths", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", wantErr: []error{ErrMalformed, ErrAmbiguousLength}, status: 400},
		{name: "negative content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "plus content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "list content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "empty content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "huge content-length", wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "content-length past max body", lim: small, wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", wantErr: []error{ErrFrameTooLarge}, status: 413},
		{name: "gzip coding", wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: []error{ErrUnsupported}, status: 501},
		{name: "chunked twice", wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "te in http/1.0", wire: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "te without chunked", wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "http/2.0", wire: "GET / HTTP/2.0\r\n", wantErr: []error{ErrUnsupported, ErrVersion}, status: 505},
		{name: "http/1.2", wire: "GET / HTTP/1.2\r\n", wantErr: []error{ErrVersion}, status: 505},
		{name: "bad version", wire: "GET / HTTP/1.1x\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "lowercase version", wire: "GET / http/1.1\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "no host in 1.1", wire: "GET / HTTP/1.1\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "two hosts", wire: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "obs-fold", wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "space before colon", wire: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "no colon", wire: "GET / HTTP/1.1\r\nHost\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "bare cr in header", wire: "GET / HTTP/1.1\r\nX: a\rb\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "nul in value", wire: "GET / HTTP/1.1\r\nX: a\x00b\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "two spaces", wire: "GET  / HTTP/1.1\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "no target", wire: "GET\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "control in target", wire: "GET /\x01 HTTP/1.1\r\n", wantErr: []error{ErrMalformed}, status: 400},
		{name: "tls handshake fails at once", wire: "\x16", wantErr: []error{ErrMalformed}, status: 400},
		{name: "request line too long", lim: small, wire: "GET /" + strings.Repeat("a", 40), wantErr: []error{ErrHeaderTooLarge}, status: 431},
		{name: "head too large", lim: small, wire: "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + strings.Repeat("v", 60), wantErr: []error{ErrHeaderTooLarge}, status: 431},
		{name: "too many headers", lim: small, wire: "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", wantErr: []error{ErrHeaderTooLarge}, status: 431},
		{name: "endless empty lines", lim: small, wire: strings.Repeat("\r\n", 40), wantErr: []error{ErrHeaderTooLarge}, status: 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewHTTPDecoder(tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			// Byte by byte: the error must appear by the end of the input
			// (never a wait for more), and only ErrNeedMore before it.
			_, err = feed(t, httpDecoder(d), bytewise([]byte(tc.wire))...)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("got %v, want %v", err, want)
				}
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Errorf("error %q does not say where", err)
			}
			if got := StatusForError(err); got != tc.status {
				t.Errorf("StatusForError = %d, want %d", got, tc.status)
			}
		})
	}
}

func TestHTTPLimitsConfig(t *testing.T) {
	tests := []struct {
		name  string
		lim   HTTPLimits
		field string
	}{
		{name: "tiny line", lim: HTTPLimits{MaxRequestLine: 8}, field: "MaxRequestLine"},
		{name: "head below line", lim: HTTPLimits{MaxRequestLine: 100, MaxHeaderBytes: 50}, field: "MaxHeaderBytes"},
		{name: "too many headers", lim: HTTPLimits{MaxHeaders: MaxHeaders + 1}, field: "MaxHeaders"},
		{name: "negative body", lim: HTTPLimits{MaxBody: -1}, field: "MaxBody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHTTPDecoder(tc.lim)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
}

func TestRequestHeaderLookup(t *testing.T) {
	d, _ := NewHTTPDecoder(HTTPLimits{})
	var req Request
	if _, err := d.Decode(NewBytes([]byte(wrkGet)), &req); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, header, want string
		missing            bool
	}{
		{name: "exact", header: "Host", want: "localhost:8080"},
		{name: "lower", header: "host", want: "localhost:8080"},
		{name: "upper", header: "CONNECTION", want: "keep-alive"},
		{name: "missing", header: "Cookie", missing: true},
		{name: "prefix only", header: "Hos", missing: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := req.Header(tc.header)
			if tc.missing != (got == nil) || string(got) != tc.want {
				t.Fatalf("Header(%q) = %q", tc.header, got)
			}
		})
	}
}

// chunkedDecoder adapts ChunkedBody to decodeFunc: frames are the data
// pieces, and a final "<done>" frame marks the end of the body.
func chunkedDecoder(max int64) decodeFunc {
	var c ChunkedBody
	c.Reset(max)
	return func(src Source) ([]byte, int, error) {
		if c.Done() {
			return nil, 0, ErrNeedMore // the body is over; leave the rest
		}
		data, n, err := c.Decode(src)
		if err != nil {
			return nil, 0, err
		}
		if c.Done() {
			return append(bytes.Clone(data), "<done>"...), n, nil
		}
		return data, n, nil
	}
}

func TestChunkedBody(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want string
	}{
		{name: "wikipedia", wire: "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n", want: "Wikipedia in\r\n\r\nchunks."},
		{name: "extensions and trailers", wire: "3;a=b;c\r\nabc\r\n1 ; x\r\nd\r\n0\r\nExpires: never\r\nX: y\r\n\r\n", want: "abcd"},
		{name: "upper hex leading zeros", wire: "00A\r\n0123456789\r\n0000\r\n\r\n", want: "0123456789"},
		{name: "empty body", wire: "0\r\n\r\n", want: ""},
		{name: "encoder output", wire: string(AppendLastChunk(AppendChunk(AppendChunk(nil, []byte("hello ")), bytes.Repeat([]byte("w"), 300)))), want: "hello " + strings.Repeat("w", 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunks := range splits([]byte(tc.wire)) {
				frames, err := feed(t, chunkedDecoder(1<<20), chunks...)
				if err != nil {
					t.Fatalf("split at %d: %v", len(chunks[0]), err)
				}
				if got := string(bytes.Join(frames, nil)); got != tc.want+"<done>" {
					t.Fatalf("split at %d: got %q", len(chunks[0]), got)
				}
			}
		})
	}
	var c ChunkedBody
	c.Reset(10)
	src := NewBytes([]byte("0\r\n\r\nGET"))
	if _, n, err := c.Decode(src); err != nil || n != 5 || !c.Done() {
		t.Fatalf("last chunk: n=%d %v done=%v", n, err, c.Done())
	}
	src.Discard(5)
	if _, _, err := c.Decode(src); err != io.EOF {
		t.Fatalf("after the end: %v, want io.EOF", err)
	}
}

func TestChunkedBodyErrors(t *testing.T) {
	tests := []struct {
		name    string
		max     int64
		wire    string
		wantErr error
	}{
		{name: "not hex", wire: "x\r\n", wantErr: ErrMalformed},
		{name: "empty size", wire: "\r\n", wantErr: ErrMalformed},
		{name: "too many digits", wire: "1000000000000000\r\n", wantErr: ErrMalformed},
		{name: "junk after size", wire: "5 x\r\n", wantErr: ErrMalformed},
		{name: "bare lf size line", wire: "5\n", wantErr: ErrMalformed},
		{name: "bare cr size line", wire: "5\rx", wantErr: ErrMalformed},
		{name: "data without crlf", wire: "1\r\naX", wantErr: ErrMalformed},
		{name: "data with lf only", wire: "1\r\na\n0", wantErr: ErrMalformed},
		{name: "control in extension", wire: "1;\x01\r\n", wantErr: ErrMalformed},
		{name: "chunk past max body, data not sent", max: 10, wire: "b\r\n", wantErr: ErrFrameTooLarge},
		{name: "chunks sum past max body", max: 10, wire: "5\r\naaaaa\r\n6\r\n", wantErr: ErrFrameTooLarge},
		{name: "size line too long", wire: "1;" + strings.Repeat("e", maxChunkLine), wantErr: ErrHeaderTooLarge},
		{name: "malformed trailer", wire: "0\r\nno colon\r\n", wantErr: ErrMalformed},
		{name: "trailer too large", wire: "0\r\n" + strings.Repeat("X: "+strings.Repeat("y", 1000)+"\r\n", 17), wantErr: ErrHeaderTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			_, err := feed(t, chunkedDecoder(max), bytewise([]byte(tc.wire))...)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("got %v, want %v with an offset", err, tc.wantErr)
			}
		})
	}
}

func TestHTTPZeroAllocs(t *testing.T) {
	d, _ := NewHTTPDecoder(HTTPLimits{})
	wire := []byte(wrkGet + "GET / HTTP/1.0\r\nConnection: keep-alive, foo\r\nHost: h\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n")
	src := NewBytes(wire)
	var req Request
	out := make([]byte, 0, 512)
	now := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		src.off = 0
		for range 2 {
			n, err := d.Decode(src, &req)
			if err != nil || !req.KeepAlive || req.Header("host") == nil {
				t.Fatal(err)
			}
			src.Discard(n)
			resp := Response{Status: 200, ContentType: "text/plain", ContentLength: 13, Date: AppendDate(out[:0], now)}
			resp.SetConnection(&req)
			out = resp.AppendHead(out[:len(resp.Date)])
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request, want 0", allocs)
	}
}

// FuzzHTTPRequest parses arbitrary bytes as pipelined requests: no panic,
// limits hold, the same result whatever the read split, and a request
// re-serialised from what was parsed parses to the same request.
func FuzzHTTPRequest(f *testing.F) {
	f.Add(uint16(10), []byte(wrkGet))
	f.Add(uint16(3), []byte("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\nPOST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"))
	f.Add(uint16(40), []byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"))
	f.Add(uint16(1), []byte("\r\n\nGET /x HTTP/1.1\nHost: h\nX: a\r\n b\n\n"))
	f.Add(uint16(7), []byte("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
	f.Fuzz(func(t *testing.T, split uint16, data []byte) {
		lim := HTTPLimits{MaxRequestLine: 64, MaxHeaderBytes: 256, MaxHeaders: 8, MaxBody: 64}
		d, _ := NewHTTPDecoder(lim)
		checkSplitSame(t, func() decodeFunc { return httpDecoder(d) }, int(split), data)
		var r0 Request
		checkAllocs(t, data, func(s Source) (int, error) { return d.Decode(s, &r0) })
		// Re-serialise each request from the parse and parse it again.
		src := NewBytes(data)
		var req, again Request
		for {
			n, err := d.Decode(src, &req)
			if err != nil {
				return
			}
			if n > lim.MaxHeaderBytes || req.nheaders > lim.MaxHeaders || req.ContentLength > lim.MaxBody {
				t.Fatalf("limits passed: n=%d headers=%d cl=%d", n, req.nheaders, req.ContentLength)
			}
			wire := fmt.Appendf(nil, "%s %s HTTP/1.%d\r\n", req.Method, req.Target, req.Minor)
			for _, h := range req.Headers() {
				wire = fmt.Appendf(wire, "%s: %s\r\n", h.Name, h.Value)
			}
			wire = append(wire, "\r\n"...)
			m, err := d.Decode(NewBytes(wire), &again)
			if err != nil || m != len(wire) || dumpRequest(&again) != dumpRequest(&req) {
				t.Fatalf("re-parse of %q: %v\n%s\n%s", wire, err, dumpRequest(&again), dumpRequest(&req))
			}
			if req.Chunked || src.Buffered() < n+int(req.ContentLength) {
				return
			}
			src.Discard(n + int(req.ContentLength))
		}
	})
}

// FuzzChunkedBody decodes arbitrary bytes as a chunked body (no panic, the
// body limit holds, the same data whatever the split) and round-trips the
// input cut into chunks through AppendChunk.
func FuzzChunkedBody(f *testing.F) {
	f.Add(uint16(3), uint8(4), []byte("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"))
	f.Add(uint16(1), uint8(1), []byte("3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\n"))
	f.Add(uint16(0), uint8(0), []byte("fffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, split uint16, size uint8, data []byte) {
		const max = 256
		cut := cutAt(int(split), len(data))
		whole, errWhole := feed(t, chunkedDecoder(max), data)
		var cb ChunkedBody
		cb.Reset(max)
		checkAllocs(t, data, func(s Source) (int, error) {
			_, n, err := cb.Decode(s)
			return n, err
		})
		parts, errParts := feed(t, chunkedDecoder(max), data[:cut], data[cut:])
		w, p := bytes.Join(whole, nil), bytes.Join(parts, nil)
		if !bytes.Equal(w, p) || (errWhole == nil) != (errParts == nil) {
			t.Fatalf("split at %d changed the result: %q/%v vs %q/%v", cut, w, errWhole, p, errParts)
		}
		if len(bytes.TrimSuffix(w, []byte("<done>"))) > max {
			t.Fatalf("%d body bytes, limit %d", len(w), max)
		}
		// Round trip: data in chunks of size+1 bytes.
		var wire []byte
		for rest := data; len(rest) > 0; {
			k := min(len(rest), int(size)+1)
			wire = AppendChunk(wire, rest[:k])
			rest = rest[k:]
		}
		wire = AppendLastChunk(wire)
		got, err := feed(t, chunkedDecoder(1<<20), wire)
		if err != nil || string(bytes.Join(got, nil)) != string(data)+"<done>" {
			t.Fatalf("decode(encode(%q)) = %q, %v", data, bytes.Join(got, nil), err)
		}
	})
}

// Errors quote at most a short prefix of the input: a hostile multi-kilobyte
// line must not make the error message (and its allocation) that large.
func TestErrorsQuoteLittle(t *testing.T) {
	long := strings.Repeat("\x12", 4000)
	d, _ := NewHTTPDecoder(HTTPLimits{})
	var req Request
	_, errCL := d.Decode(NewBytes([]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "+long+"\r\n\r\n")), &req)
	_, errTE := d.Decode(NewBytes([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x"+long+"\r\n\r\n")), &req)
	_, errVer := d.Decode(NewBytes([]byte("GET / HTTP/1.1"+long+"\r\n")), &req)
	var c ChunkedBody
	c.Reset(1 << 20)
	_, _, errChunk := c.Decode(NewBytes([]byte(long + "\r\n")))
	tests := []struct {
		name string
		err  error
	}{
		{name: "content-length", err: errCL},
		{name: "transfer-encoding", err: errTE},
		{name: "version", err: errVer},
		{name: "chunk size", err: errChunk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || len(tc.err.Error()) > 300 {
				t.Fatalf("error of %d bytes: %.300v", len(fmt.Sprint(tc.err)), tc.err)
			}
		})
	}
}
