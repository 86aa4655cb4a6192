package proxyproto

import "errors"

// The sentinels below are what callers test with errors.Is. A parse error
// wraps one of them and says what was wrong and at which byte offset, so a
// listener can close the connection with a useful reason. An incomplete
// header is not an error of its own: Parse and Decode return
// codec.ErrNeedMore for it.
var (
	// ErrNoHeader is returned when the first bytes are neither the version 1
	// signature ("PROXY ") nor the version 2 one: the peer does not speak
	// the PROXY protocol. It is reported as soon as a byte disagrees, so a
	// client that sends "GET / ..." is not kept waiting for more.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")

	// ErrTooLong is returned for a version 1 line without its CRLF in the
	// first 107 bytes (the spec's maximum), and for a version 2 header whose
	// length field announces more than the parser's limit (WithMaxLength).
	// The length is checked before the bytes it announces are waited for.
	ErrTooLong = errors.New("proxyproto: header too long")

	// ErrMalformed is returned for a header that breaks the syntax: a bad
	// address or port, a missing space, a lone CR or LF, an address block
	// shorter than its family needs, a TLV that overruns the header.
	ErrMalformed = errors.New("proxyproto: malformed header")

	// ErrUnsupported is returned for a well-framed header with a value the
	// spec says receivers must reject: a version 2 header whose version
	// nibble is not 2, a command other than LOCAL and PROXY, an address
	// family or transport protocol the spec does not define, or a version
	// 1 protocol other than TCP4, TCP6 and UNKNOWN.
	ErrUnsupported = errors.New("proxyproto: unsupported value in header")

	// ErrChecksum is returned when a version 2 header carries a CRC32C TLV
	// (type 0x03) that does not match the header.
	ErrChecksum = errors.New("proxyproto: header checksum mismatch")

	// ErrInvalidHeader is returned by Header.Append for a Header that
	// cannot be written: a version other than 1 and 2, addresses of two
	// different families, a unix path longer than 107 bytes.
	ErrInvalidHeader = errors.New("proxyproto: header cannot be written")

	// ErrInvalidOption is returned by NewParser for an option out of range;
	// the message names it.
	ErrInvalidOption = errors.New("proxyproto: invalid option")
)

// maxQuoted is the most input bytes an error message quotes.
const maxQuoted = 32

// clip returns b cut to maxQuoted bytes, for quoting input in an error.
func clip(b []byte) []byte { return b[:min(len(b), maxQuoted)] }
