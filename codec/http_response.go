package codec

import (
	"errors"
	"strconv"
	"time"
)

// Response describes a response head for AppendHead. Fill it per response;
// it holds no memory of its own.
type Response struct {
	// Status is the status code, such as 200.
	Status int
	// ContentType, when not empty, is sent as Content-Type.
	ContentType string
	// ContentLength is sent as Content-Length unless it is negative. A
	// response on a kept-alive connection needs it (or a chunked body the
	// caller frames itself).
	ContentLength int64
	// Date, when not nil, is sent as Date: format it with AppendDate once a
	// second rather than per response.
	Date []byte
	// Close adds "Connection: close": the server closes after this response.
	Close bool
	// KeepAlive adds "Connection: keep-alive", which HTTP/1.0 clients such as
	// ab need to see before they reuse the connection.
	KeepAlive bool
}

// SetConnection sets Close and KeepAlive as req asks: close unless req keeps
// the connection alive, and say keep-alive explicitly to HTTP/1.0 clients.
func (r *Response) SetConnection(req *Request) {
	r.Close = !req.KeepAlive
	r.KeepAlive = req.KeepAlive && req.Minor == 0
}

// AppendHead appends the status line, the headers r describes and the empty
// line that ends the head. It allocates only if dst must grow.
func (r *Response) AppendHead(dst []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(r.Status)...)
	dst = append(dst, "\r\n"...)
	if r.Date != nil {
		dst = append(dst, "Date: "...)
		dst = append(dst, r.Date...)
		dst = append(dst, "\r\n"...)
	}
	if r.ContentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, r.ContentType...)
		dst = append(dst, "\r\n"...)
	}
	if r.ContentLength >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.ContentLength, 10)
		dst = append(dst, "\r\n"...)
	}
	if r.Close {
		dst = append(dst, "Connection: close\r\n"...)
	} else if r.KeepAlive {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// AppendHeader appends one "name: value" header line, for headers Response
// has no field for; call it between AppendHead's output and its final CRLF
// by building the head as AppendHead(dst)[:len-2], AppendHeader..., "\r\n".
func AppendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendDate appends t in the HTTP date format (RFC 9110 5.6.7), such as
// "Sun, 06 Nov 1994 08:49:37 GMT".
func AppendDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
}

// StatusText returns the reason phrase for the status codes a server built
// on this package commonly sends, and "Status" for others (the phrase is
// informative only; clients ignore it).
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}

// StatusForError returns the status code a server should answer (before
// closing the connection) for an error from HTTPDecoder.Decode or
// ChunkedBody.Decode: 431, 413, 505, 501 or 400.
func StatusForError(err error) int {
	switch {
	case errors.Is(err, ErrHeaderTooLarge):
		return 431
	case errors.Is(err, ErrFrameTooLarge):
		return 413
	case errors.Is(err, ErrVersion):
		return 505
	case errors.Is(err, ErrUnsupported):
		return 501
	}
	return 400
}

// AppendChunk appends data as one chunk of a chunked body: its size in hex,
// CRLF, the data, CRLF. Empty data appends nothing, since an empty chunk
// would end the body; use AppendLastChunk for that.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(len(data)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the zero-size chunk and the empty trailer section
// that end a chunked body.
func AppendLastChunk(dst []byte) []byte { return append(dst, "0\r\n\r\n"...) }
