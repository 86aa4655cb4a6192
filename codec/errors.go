package codec

import "errors"

// The sentinels below are what callers test with errors.Is. Errors about a
// particular input wrap one of them with fmt.Errorf("%w: ...") and add what
// was wrong and at which byte offset, so the connection can be closed with a
// useful reason while errors.Is still works.
var (
	// ErrNeedMore is returned by a decoder when the source does not yet hold a
	// complete frame. It is not a failure: read more bytes and call again.
	ErrNeedMore = errors.New("codec: need more bytes")

	// ErrFrameTooLarge is returned when a frame, body, bulk string or argument
	// count declares or reaches more than its configured limit. Decoders report
	// it as soon as the declared size is known, before waiting for the bytes, so
	// a hostile length never makes the connection buffer up to it.
	ErrFrameTooLarge = errors.New("codec: frame too large")

	// ErrHeaderTooLarge is returned by the HTTP decoder when the request line,
	// the header block or the header count passes its limit (a server answers
	// 431), and by the chunked body decoder for an over-long chunk-size line.
	ErrHeaderTooLarge = errors.New("codec: header too large")

	// ErrMalformed is returned, wrapped with what and where, when the input
	// breaks the protocol's syntax: a bad length field, a bad request line, a
	// bad chunk size, a RESP type byte that is not expected. A server answers
	// 400 (HTTP) or "-ERR Protocol error" (RESP) and closes the connection.
	ErrMalformed = errors.New("codec: malformed input")

	// ErrAmbiguousLength is returned, together with ErrMalformed, when an HTTP
	// request frames its body in more than one way: Content-Length together
	// with Transfer-Encoding, or Content-Length headers that disagree. Such a
	// request is the raw material of request smuggling, so it is rejected
	// rather than resolved.
	ErrAmbiguousLength = errors.New("codec: ambiguous message length")

	// ErrUnsupported is returned by the HTTP decoder for a well-formed request
	// it cannot serve: a transfer coding other than chunked (a server answers
	// 501), or, together with ErrVersion, an HTTP version other than 1.0 and
	// 1.1.
	ErrUnsupported = errors.New("codec: unsupported protocol feature")

	// ErrVersion is returned, together with ErrUnsupported, for a request
	// line naming an HTTP version other than 1.0 and 1.1 (a server answers
	// 505).
	ErrVersion = errors.New("codec: unsupported HTTP version")

	// ErrInvalidConfig is returned by the constructors (NewLengthField,
	// NewDelimiter, NewFixed, ...) and by encoders given arguments that do not
	// fit the configuration; the message names the offending field.
	ErrInvalidConfig = errors.New("codec: invalid configuration")
)

// maxQuoted is the most input bytes an error message quotes: enough to
// recognise the mistake, while a hostile line of kilobytes cannot make an
// error allocate in proportion to it.
const maxQuoted = 32

// clip returns b cut to maxQuoted bytes, for quoting input in an error.
func clip(b []byte) []byte { return b[:min(len(b), maxQuoted)] }
