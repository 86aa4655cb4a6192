package codec

import (
	"bytes"
	"fmt"
	"io"
)

// maxChunkLine bounds a chunk-size line (size and extensions) and each
// trailer line; real clients send a few bytes.
const maxChunkLine = 4096

// chunkWindow is the most chunk data one ChunkedBody.Decode hands out, to
// bound what it peeks (and a copying Source copies) in one call.
const chunkWindow = 64 << 10

// maxTrailer bounds the whole trailer section of a chunked body.
const maxTrailer = 16 << 10

// The states of a ChunkedBody, in the order a body passes through them:
//
//	size line --(size > 0)--> data --(chunk consumed)--> CRLF --> size line
//	size line --(size 0)--> trailer lines --(empty line)--> done
const (
	chunkSize uint8 = iota
	chunkData
	chunkDataEnd
	chunkTrailer
	chunkDone
)

// ChunkedBody decodes a chunked request body (RFC 9112 section 7.1), handing
// out the data as it arrives rather than waiting for whole chunks, so a
// large chunk never has to fit in the buffer. It holds the state of one body
// on one connection; Reset it for each request whose Chunked is set.
//
// The zero value is not ready: call Reset first.
type ChunkedBody struct {
	state     uint8
	remaining int64 // bytes left in the current chunk
	total     int64 // body bytes declared so far
	trailer   int   // trailer bytes seen so far
	maxBody   int64
}

// Reset prepares c for a new body of at most maxBody bytes (the decoder's
// HTTPLimits.MaxBody, typically).
func (c *ChunkedBody) Reset(maxBody int64) {
	*c = ChunkedBody{maxBody: maxBody}
}

// Done reports whether the whole body, trailers included, has been decoded.
func (c *ChunkedBody) Done() bool { return c.state == chunkDone }

// Decode returns the next piece of body data and the wire bytes n to
// discard, which include any chunk framing consumed on the way. data may be
// empty with n > 0 (only framing was consumed), and is empty on the call
// that consumes the end of the body, after which Done reports true and
// further calls return io.EOF. data aliases the source until Discard(n).
//
// Errors: ErrFrameTooLarge when the declared chunk sizes pass the body
// limit (before the data is waited for), ErrHeaderTooLarge for an over-long
// size or trailer line, ErrMalformed with the offset for bad framing.
// Offsets count from the source's current position.
func (c *ChunkedBody) Decode(src Source) (data []byte, n int, err error) {
	if c.state == chunkDone {
		return nil, 0, io.EOF
	}
	buffered := src.Buffered()
	if buffered == 0 {
		return nil, 0, ErrNeedMore
	}
	// Peek only what the current step needs (a line, a piece of data, a
	// CRLF), so a Source that copies to make bytes contiguous copies little.
	// Earlier peeked slices stay valid until Discard, so growing is safe.
	var b []byte
	off := 0
	ensure := func(k int) error {
		if want := min(buffered, off+k); want > len(b) {
			var err error
			b, err = src.Peek(want)
			return err
		}
		return nil
	}
	// partial returns what was consumed so far, or ErrNeedMore if nothing.
	partial := func() ([]byte, int, error) {
		if off > 0 {
			return nil, off, nil
		}
		return nil, 0, ErrNeedMore
	}
	for {
		switch c.state {
		case chunkSize:
			if err := ensure(maxChunkLine); err != nil {
				return nil, 0, err
			}
			line, next, err := chunkLine(b, off, "chunk-size line")
			if err == ErrNeedMore {
				return partial()
			}
			if err != nil {
				return nil, 0, err
			}
			size, err := parseChunkSize(line, off)
			if err != nil {
				return nil, 0, err
			}
			if size > c.maxBody-c.total {
				return nil, 0, fmt.Errorf("%w: chunk of %d bytes at offset %d takes the body past %d", ErrFrameTooLarge, size, off, c.maxBody)
			}
			c.total += size
			off = next
			if size == 0 {
				c.state = chunkTrailer
			} else {
				c.state, c.remaining = chunkData, size
			}
		case chunkData:
			if err := ensure(int(min(c.remaining, chunkWindow))); err != nil {
				return nil, 0, err
			}
			k := int(min(int64(len(b)-off), c.remaining))
			if k == 0 {
				return partial()
			}
			c.remaining -= int64(k)
			if c.remaining == 0 {
				c.state = chunkDataEnd
			}
			return b[off : off+k : off+k], off + k, nil
		case chunkDataEnd:
			if err := ensure(2); err != nil {
				return nil, 0, err
			}
			if len(b)-off < 2 {
				if len(b)-off == 1 && b[off] != '\r' {
					return nil, 0, fmt.Errorf("%w: chunk data not followed by CRLF at offset %d", ErrMalformed, off)
				}
				return partial()
			}
			if b[off] != '\r' || b[off+1] != '\n' {
				return nil, 0, fmt.Errorf("%w: chunk data not followed by CRLF at offset %d", ErrMalformed, off)
			}
			off += 2
			c.state = chunkSize
		case chunkTrailer:
			if err := ensure(maxChunkLine); err != nil {
				return nil, 0, err
			}
			line, next, err := chunkLine(b, off, "trailer line")
			if err == ErrNeedMore {
				return partial()
			}
			if err != nil {
				return nil, 0, err
			}
			c.trailer += next - off
			if c.trailer > maxTrailer {
				return nil, 0, fmt.Errorf("%w: trailer section longer than %d bytes (offset %d)", ErrHeaderTooLarge, maxTrailer, off)
			}
			if len(line) == 0 {
				c.state = chunkDone
				return nil, next, nil
			}
			// Trailer fields are not kept, but must be well formed so a
			// body cannot smuggle a bare line past a front end.
			if _, err := parseHeaderLine(line, off); err != nil {
				return nil, 0, err
			}
			off = next
		}
	}
}

// chunkLine returns the CRLF-terminated line at b[off] without its CRLF.
// Chunk framing is strict: a bare LF or CR is malformed.
func chunkLine(b []byte, off int, what string) ([]byte, int, error) {
	window := b[off:min(len(b), off+maxChunkLine)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		if len(window) >= maxChunkLine {
			return nil, 0, fmt.Errorf("%w: %s longer than %d bytes at offset %d", ErrHeaderTooLarge, what, maxChunkLine, off)
		}
		if j := bytes.IndexByte(window, '\r'); j >= 0 && j < len(window)-1 {
			return nil, 0, fmt.Errorf("%w: bare CR in %s at offset %d", ErrMalformed, what, off+j)
		}
		return nil, 0, ErrNeedMore
	}
	if i == 0 || window[i-1] != '\r' {
		return nil, 0, fmt.Errorf("%w: %s ends in a bare LF at offset %d", ErrMalformed, what, off+i)
	}
	line := window[: i-1 : i-1]
	if j := bytes.IndexByte(line, '\r'); j >= 0 {
		return nil, 0, fmt.Errorf("%w: bare CR in %s at offset %d", ErrMalformed, what, off+j)
	}
	return line, off + i + 1, nil
}

// parseChunkSize parses "hex [; extensions]" (line starts at offset off).
// Extensions are skipped but may not hold control bytes. At most 15 hex
// digits are accepted, so the size stays below 2^60.
func parseChunkSize(line []byte, off int) (int64, error) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			goto rest
		}
		if i == 15 {
			return 0, fmt.Errorf("%w: chunk size at offset %d has more than 15 hex digits", ErrMalformed, off)
		}
		size = size<<4 | int64(v)
	}
rest:
	if i == 0 {
		return 0, fmt.Errorf("%w: chunk size at offset %d is not hexadecimal: %q", ErrMalformed, off, clip(line))
	}
	ext := line[i:]
	for len(ext) > 0 && (ext[0] == ' ' || ext[0] == '\t') {
		ext = ext[1:]
	}
	if len(ext) > 0 && ext[0] != ';' {
		return 0, fmt.Errorf("%w: byte %q after chunk size at offset %d", ErrMalformed, ext[0], off+len(line)-len(ext))
	}
	for j, c := range ext {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, fmt.Errorf("%w: control byte %q in chunk extension at offset %d", ErrMalformed, c, off+len(line)-len(ext)+j)
		}
	}
	return size, nil
}
