package codec

import (
	"bytes"
	"fmt"
)

// MaxHeaders is the capacity of a Request's header array: the most header
// fields a request may carry (HTTPLimits.MaxHeaders may lower it).
const MaxHeaders = 64

// HTTPLimits bounds what an HTTPDecoder accepts. A zero field takes the
// default given beside it.
type HTTPLimits struct {
	// MaxRequestLine is the longest request line, CRLF included. Default
	// 8 KiB.
	MaxRequestLine int
	// MaxHeaderBytes is the longest request head: request line, header
	// fields and the empty line that ends them. Default 16 KiB.
	MaxHeaderBytes int
	// MaxHeaders is the most header fields, at most the MaxHeaders
	// constant. Default MaxHeaders.
	MaxHeaders int
	// MaxBody is the largest body, by Content-Length or chunked. Default
	// 8 MiB.
	MaxBody int64
}

// HTTPDecoder parses HTTP/1.0 and HTTP/1.1 request heads. It holds only its
// limits and is safe for concurrent use. Build it with NewHTTPDecoder.
type HTTPDecoder struct {
	lim HTTPLimits
}

// NewHTTPDecoder returns a decoder with lim, defaults filled in. The error
// wraps ErrInvalidConfig and names the bad field.
func NewHTTPDecoder(lim HTTPLimits) (*HTTPDecoder, error) {
	if lim.MaxRequestLine == 0 {
		lim.MaxRequestLine = 8 << 10
	}
	if lim.MaxHeaderBytes == 0 {
		lim.MaxHeaderBytes = 16 << 10
	}
	if lim.MaxHeaders == 0 {
		lim.MaxHeaders = MaxHeaders
	}
	if lim.MaxBody == 0 {
		lim.MaxBody = 8 << 20
	}
	switch {
	case lim.MaxRequestLine < 16:
		return nil, fmt.Errorf("%w: HTTPLimits.MaxRequestLine %d is below 16", ErrInvalidConfig, lim.MaxRequestLine)
	case lim.MaxHeaderBytes < lim.MaxRequestLine:
		return nil, fmt.Errorf("%w: HTTPLimits.MaxHeaderBytes %d is below MaxRequestLine %d", ErrInvalidConfig, lim.MaxHeaderBytes, lim.MaxRequestLine)
	case lim.MaxHeaders < 0 || lim.MaxHeaders > MaxHeaders:
		return nil, fmt.Errorf("%w: HTTPLimits.MaxHeaders %d is outside [1, %d]", ErrInvalidConfig, lim.MaxHeaders, MaxHeaders)
	case lim.MaxBody < 0:
		return nil, fmt.Errorf("%w: HTTPLimits.MaxBody %d is negative", ErrInvalidConfig, lim.MaxBody)
	}
	return &HTTPDecoder{lim: lim}, nil
}

// Limits returns the limits in force, defaults filled in.
func (d *HTTPDecoder) Limits() HTTPLimits { return d.lim }

// Header is one header field. Name and Value alias the source.
type Header struct {
	// Name is the field name as sent (compare it with EqualFold-style
	// lookups, such as Request.Header).
	Name []byte
	// Value is the field value without leading and trailing whitespace.
	Value []byte
}

// Request is a parsed request head. Reuse one per connection: Decode
// overwrites every field and keeps the headers in a fixed array, so parsing
// never allocates. Every slice aliases the source and is valid until the
// caller discards the head's n bytes.
type Request struct {
	// Method is the request method, such as GET.
	Method []byte
	// Target is the request target as sent, such as /index.html?q=1.
	Target []byte
	// Minor is the HTTP minor version: 0 or 1.
	Minor int
	// ContentLength is the body length from Content-Length, 0 when the
	// request has no body, and -1 when the body is chunked.
	ContentLength int64
	// Chunked reports a chunked body; read it with a ChunkedBody.
	Chunked bool
	// KeepAlive reports whether the connection stays open after this
	// request: by default for HTTP/1.1 unless "Connection: close", and for
	// HTTP/1.0 only with "Connection: keep-alive".
	KeepAlive bool
	// ExpectContinue reports "Expect: 100-continue" (curl sends it before a
	// large body): answer "HTTP/1.1 100 Continue" or the final response.
	ExpectContinue bool

	headers  [MaxHeaders]Header
	nheaders int
}

// Headers returns the header fields in the order received, without
// copying.
func (r *Request) Headers() []Header { return r.headers[:r.nheaders] }

// Header returns the value of the first header field called name, matched
// without regard to ASCII case, or nil if there is none. It does not
// allocate.
func (r *Request) Header(name string) []byte {
	for i := range r.nheaders {
		if equalFoldASCII(r.headers[i].Name, name) {
			return r.headers[i].Value
		}
	}
	return nil
}

// Decode parses the next request head into req and returns its wire length
// n; the body, if any (req.ContentLength bytes, or chunked), follows it.
// Leading empty lines are skipped, as RFC 9112 allows. Lines may end in CRLF
// or a bare LF; a bare CR is malformed.
//
// Errors: ErrHeaderTooLarge past a size or count limit (answer 431);
// ErrFrameTooLarge for a Content-Length past MaxBody (413); ErrUnsupported
// for a transfer coding other than chunked (501) or, with ErrVersion, a
// version other than 1.0 and 1.1 (505); ErrMalformed, with ErrAmbiguousLength
// for smuggling-prone framing, for anything else (400). Malformed input is
// reported as soon as the line holding it is complete. After an error the
// fields of req are unspecified.
func (d *HTTPDecoder) Decode(src Source, req *Request) (n int, err error) {
	req.Method, req.Target = nil, nil
	req.Minor, req.ContentLength, req.nheaders = 0, 0, 0
	req.Chunked, req.KeepAlive, req.ExpectContinue = false, false, false

	return decodeWindowed(src, d.lim.MaxHeaderBytes, func(b []byte) (int, error) { return d.parse(b, req) })
}

// parse parses the request head at the start of b into req.
func (d *HTTPDecoder) parse(b []byte, req *Request) (int, error) {
	pos := 0
	for pos < len(b) && (b[pos] == '\n' || b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n') {
		pos += 1 + int(b[pos]&1) // "\r\n" is two bytes ('\r' is odd), "\n" one
	}
	// The request line.
	line, next, err := d.line(b, pos, pos, d.lim.MaxRequestLine, "request line")
	if err != nil {
		if err == ErrNeedMore && string(b[pos:]) != "\r" {
			// Fail early on garbage (a TLS handshake, a binary protocol):
			// the method must be a token up to its space. A lone "\r" may
			// be the start of one more leading empty line.
			if err := checkMethodPrefix(b[pos:]); err != nil {
				return 0, err
			}
		}
		return 0, err
	}
	if err := d.parseRequestLine(line, pos, req); err != nil {
		return 0, err
	}
	pos = next

	var h headerState
	for {
		line, next, err := d.line(b, pos, 0, d.lim.MaxHeaderBytes, "header block")
		if err != nil {
			return 0, err
		}
		if len(line) == 0 {
			pos = next
			break
		}
		if req.nheaders == d.lim.MaxHeaders {
			return 0, fmt.Errorf("%w: more than %d header fields (offset %d)", ErrHeaderTooLarge, d.lim.MaxHeaders, pos)
		}
		hd, err := parseHeaderLine(line, pos)
		if err != nil {
			return 0, err
		}
		req.headers[req.nheaders] = hd
		req.nheaders++
		if err := h.note(hd, pos); err != nil {
			return 0, err
		}
		pos = next
	}
	if err := h.finish(d, req, pos); err != nil {
		return 0, err
	}
	return pos, nil
}

// line returns the line starting at b[pos] without its CRLF or LF, and the
// offset after it. A missing line end means ErrNeedMore, or
// ErrHeaderTooLarge once the limit bytes from base (the request line's
// start, or 0 for the whole head) hold none.
func (d *HTTPDecoder) line(b []byte, pos, base, limit int, what string) ([]byte, int, error) {
	window := b[pos:min(len(b), base+limit)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		// b holds at most MaxHeaderBytes, so once it is full no more input
		// can complete the head (this also bounds leading empty lines).
		if len(b)-base >= limit || len(b) >= d.lim.MaxHeaderBytes {
			return nil, 0, fmt.Errorf("%w: %s longer than %d bytes (offset %d)", ErrHeaderTooLarge, what, limit, base)
		}
		return nil, 0, ErrNeedMore
	}
	line := window[:i:i]
	if i > 0 && line[i-1] == '\r' {
		line = line[: i-1 : i-1]
	}
	if j := bytes.IndexByte(line, '\r'); j >= 0 {
		return nil, 0, fmt.Errorf("%w: bare CR in %s at offset %d", ErrMalformed, what, pos+j)
	}
	return line, pos + i + 1, nil
}

// checkMethodPrefix rejects an incomplete request line whose method part
// already holds a byte no method may contain.
func checkMethodPrefix(b []byte) error {
	for i, c := range b {
		if c == ' ' && i > 0 {
			return nil
		}
		if !isTokenChar(c) {
			return fmt.Errorf("%w: byte %q in method at offset %d", ErrMalformed, c, i)
		}
	}
	return nil
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.x" (line starts at
// offset pos) into req.
func (d *HTTPDecoder) parseRequestLine(line []byte, pos int, req *Request) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return fmt.Errorf("%w: request line without method at offset %d", ErrMalformed, pos)
	}
	for i, c := range line[:sp1] {
		if !isTokenChar(c) {
			return fmt.Errorf("%w: byte %q in method at offset %d", ErrMalformed, c, pos+i)
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return fmt.Errorf("%w: request line without target at offset %d", ErrMalformed, pos+sp1+1)
	}
	for i, c := range rest[:sp2] {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: byte %q in request target at offset %d", ErrMalformed, c, pos+sp1+1+i)
		}
	}
	proto := rest[sp2+1:]
	protoAt := pos + sp1 + 1 + sp2 + 1
	if len(proto) != 8 || string(proto[:5]) != "HTTP/" || proto[6] != '.' || !isDigit(proto[5]) || !isDigit(proto[7]) {
		return fmt.Errorf("%w: bad HTTP version %q at offset %d", ErrMalformed, clip(proto), protoAt)
	}
	if proto[5] != '1' || proto[7] > '1' {
		return fmt.Errorf("%w: %w: %q at offset %d", ErrUnsupported, ErrVersion, proto, protoAt)
	}
	req.Method = line[:sp1:sp1]
	req.Target = rest[:sp2:sp2]
	req.Minor = int(proto[7] - '0')
	return nil
}

// parseHeaderLine splits "name: value" (line starts at offset pos).
func parseHeaderLine(line []byte, pos int) (Header, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return Header{}, fmt.Errorf("%w: obsolete line folding at offset %d", ErrMalformed, pos)
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return Header{}, fmt.Errorf("%w: header line without name and colon at offset %d", ErrMalformed, pos)
	}
	for i, c := range line[:colon] {
		if !isTokenChar(c) {
			return Header{}, fmt.Errorf("%w: byte %q in header name at offset %d", ErrMalformed, c, pos+i)
		}
	}
	start, end := colon+1, len(line)
	for start < end && (line[start] == ' ' || line[start] == '\t') {
		start++
	}
	for end > start && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	for i := start; i < end; i++ {
		if c := line[i]; c < ' ' && c != '\t' || c == 0x7f {
			return Header{}, fmt.Errorf("%w: control byte %q in header value at offset %d", ErrMalformed, c, pos+i)
		}
	}
	return Header{Name: line[:colon:colon], Value: line[start:end:end]}, nil
}

// headerState collects what the framing headers said while they are
// parsed, to be judged once the head is complete.
type headerState struct {
	hasCL, hasTE       bool
	cl                 int64
	chunked            int // times "chunked" was listed
	close, keepAlive   bool
	hosts              int
	expect100          bool
	teAt, clAt, hostAt int
}

// note records the meaning of one header field found at offset pos.
func (h *headerState) note(hd Header, pos int) error {
	switch len(hd.Name) {
	case 4:
		if equalFoldASCII(hd.Name, "host") {
			h.hosts++
			h.hostAt = pos
		}
	case 6:
		if equalFoldASCII(hd.Name, "expect") && equalFoldASCII(hd.Value, "100-continue") {
			h.expect100 = true
		}
	case 10:
		if equalFoldASCII(hd.Name, "connection") {
			for tok := range tokens(hd.Value) {
				switch {
				case equalFoldASCII(tok, "close"):
					h.close = true
				case equalFoldASCII(tok, "keep-alive"):
					h.keepAlive = true
				}
			}
		}
	case 14:
		if equalFoldASCII(hd.Name, "content-length") {
			v, ok := parseContentLength(hd.Value)
			if !ok {
				return fmt.Errorf("%w: invalid Content-Length %q at offset %d", ErrMalformed, clip(hd.Value), pos)
			}
			if h.hasCL && v != h.cl {
				return fmt.Errorf("%w: %w: Content-Length %d at offset %d contradicts %d at offset %d", ErrMalformed, ErrAmbiguousLength, v, pos, h.cl, h.clAt)
			}
			h.hasCL, h.cl, h.clAt = true, v, pos
		}
	case 17:
		if equalFoldASCII(hd.Name, "transfer-encoding") {
			h.hasTE, h.teAt = true, pos
			for tok := range tokens(hd.Value) {
				if !equalFoldASCII(tok, "chunked") {
					return fmt.Errorf("%w: transfer coding %q at offset %d", ErrUnsupported, clip(tok), pos)
				}
				h.chunked++
			}
		}
	}
	return nil
}

// finish applies the framing rules of RFC 9112 section 6 to req; pos is the
// head's length, for error offsets.
func (h *headerState) finish(d *HTTPDecoder, req *Request, pos int) error {
	if h.hasTE {
		switch {
		case h.hasCL:
			return fmt.Errorf("%w: %w: both Transfer-Encoding (offset %d) and Content-Length (offset %d)", ErrMalformed, ErrAmbiguousLength, h.teAt, h.clAt)
		case req.Minor == 0:
			// RFC 9112 6.1: HTTP/1.0 has no chunked coding; the framing
			// is faulty.
			return fmt.Errorf("%w: Transfer-Encoding in an HTTP/1.0 request at offset %d", ErrMalformed, h.teAt)
		case h.chunked != 1:
			return fmt.Errorf("%w: Transfer-Encoding at offset %d lists chunked %d times", ErrMalformed, h.teAt, h.chunked)
		}
		req.Chunked, req.ContentLength = true, -1
	} else if h.hasCL {
		if h.cl > d.lim.MaxBody {
			return fmt.Errorf("%w: Content-Length %d at offset %d, limit %d", ErrFrameTooLarge, h.cl, h.clAt, d.lim.MaxBody)
		}
		req.ContentLength = h.cl
	}
	if req.Minor == 1 && h.hosts != 1 {
		// RFC 9112 3.2: exactly one Host in HTTP/1.1.
		return fmt.Errorf("%w: %d Host header fields in HTTP/1.1 request (head ends at offset %d)", ErrMalformed, h.hosts, pos)
	}
	req.KeepAlive = !h.close && (req.Minor == 1 || h.keepAlive)
	req.ExpectContinue = h.expect100
	return nil
}

// parseContentLength accepts 1 to 18 decimal digits, which cannot overflow,
// and nothing else: no sign, no list, no spaces.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tokens yields the non-empty elements of a comma-separated header value,
// trimmed of spaces and tabs.
func tokens(v []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var tok []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				tok, v = v, nil
			}
			tok = bytes.Trim(tok, " \t")
			if len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// The tchar set of RFC 9110 5.6.2 as a 128-bit mask: bit c of the pair is
// set when byte c may appear in a token (a method or a header name).
const (
	tokenMaskLo uint64 = 0x03ff6cfa00000000 // bytes 0-63: ! # $ % & ' * + - . 0-9
	tokenMaskHi uint64 = 0x57ffffffc7fffffe // bytes 64-127: A-Z ^ _ ` a-z | ~
)

func isTokenChar(c byte) bool {
	if c < 64 {
		return tokenMaskLo>>c&1 == 1
	}
	return c < 128 && tokenMaskHi>>(c-64)&1 == 1
}
