package codec

import (
	"bytes"
	"fmt"
)

// Delimiter decodes frames that end with a delimiter, such as text lines.
// Build one with NewDelimiter or NewLine.
//
// A Delimiter remembers how far it has scanned an incomplete frame, so a
// frame trickling in over many reads is scanned once, not once per read. That
// state belongs to one stream: give each connection its own Delimiter (Clone
// one configured value) and call Reset if the stream's buffered bytes are
// discarded other than through the n that Decode returned.
type Delimiter struct {
	delim   []byte
	max     int  // longest frame, delimiter excluded
	keep    bool // return the delimiter as part of the frame
	line    bool // delimiter is "\n", and a "\r" before it is part of it
	scanned int  // bytes at the front of the source known to hold no delimiter start
}

// NewDelimiter returns a decoder for frames ending with delim (at least one
// byte; it is copied). maxLength bounds a frame without its delimiter:
// once more than maxLength+len(delim) bytes are buffered without a delimiter,
// Decode returns ErrFrameTooLarge rather than wait. keepDelimiter leaves the
// delimiter at the end of returned frames.
func NewDelimiter(delim []byte, maxLength int, keepDelimiter bool) (*Delimiter, error) {
	if len(delim) == 0 {
		return nil, fmt.Errorf("%w: delim is empty", ErrInvalidConfig)
	}
	if maxLength <= 0 {
		return nil, fmt.Errorf("%w: maxLength %d must be positive", ErrInvalidConfig, maxLength)
	}
	return &Delimiter{delim: bytes.Clone(delim), max: maxLength, keep: keepDelimiter}, nil
}

// NewLine returns a decoder for text lines ending in "\n" or "\r\n", which
// it strips. maxLength (at least 1; smaller values are taken as 1) bounds a
// line without its ending.
func NewLine(maxLength int) *Delimiter {
	return &Delimiter{delim: []byte{'\n'}, max: max(maxLength, 1), line: true}
}

// Clone returns a copy of d's configuration with fresh scan state, for
// another connection.
func (d *Delimiter) Clone() *Delimiter {
	return &Delimiter{delim: d.delim, max: d.max, keep: d.keep, line: d.line}
}

// Reset forgets how far d scanned, for when the stream's bytes were consumed
// by something other than d.
func (d *Delimiter) Reset() { d.scanned = 0 }

// Decode returns the next frame, without its delimiter unless the decoder
// keeps it, and the frame's wire length n (delimiter included). It returns
// ErrFrameTooLarge, with the offset the limit was passed at, as soon as more
// bytes than the longest frame plus its delimiter are buffered without one.
func (d *Delimiter) Decode(src Source) (frame []byte, n int, err error) {
	buffered := src.Buffered()
	if buffered < d.scanned {
		// Bytes were consumed behind our back: what we scanned is gone.
		d.scanned = 0
	}
	if buffered == 0 {
		return nil, 0, ErrNeedMore
	}
	window := d.max + len(d.delim)
	if d.line {
		window = d.max + 2 // the content, then "\r\n"
	}
	limit := min(window, buffered)
	// Scan only bytes not scanned before: a multi-byte delimiter may have
	// started in the last len-1 bytes scanned, so back up that far. The peek
	// window starts small and doubles, so a Source that copies to make
	// bytes contiguous copies about one frame, not all that is buffered.
	from := max(0, d.scanned-(len(d.delim)-1))
	var b []byte
	i := -1
	for {
		w := min(limit, max(firstWindow, 2*d.scanned))
		b, err = src.Peek(w)
		if err != nil {
			return nil, 0, err
		}
		if len(d.delim) == 1 {
			i = bytes.IndexByte(b[from:], d.delim[0])
		} else {
			i = bytes.Index(b[from:], d.delim)
		}
		if i >= 0 {
			break
		}
		d.scanned = w
		from = max(0, w-(len(d.delim)-1))
		if w == limit {
			break
		}
	}
	if i < 0 {
		if limit == buffered && buffered <= d.limitWithoutDelimiter() {
			return nil, 0, ErrNeedMore
		}
		d.scanned = 0
		return nil, 0, fmt.Errorf("%w: no delimiter within %d bytes (offset 0 to %d), limit %d", ErrFrameTooLarge, limit, limit, d.max)
	}
	d.scanned = 0
	end := from + i // index of the delimiter
	n = end + len(d.delim)
	content := end
	if d.line && end > 0 && b[end-1] == '\r' {
		content = end - 1
	}
	if content > d.max {
		return nil, 0, fmt.Errorf("%w: %d-byte frame ends at offset %d, limit %d", ErrFrameTooLarge, content, end, d.max)
	}
	if d.keep {
		return b[:n:n], n, nil
	}
	return b[:content:content], n, nil
}

// limitWithoutDelimiter is the most bytes that may be buffered while no
// delimiter has been seen and a legal frame could still be arriving.
func (d *Delimiter) limitWithoutDelimiter() int {
	if d.line {
		return d.max + 1 // the content and a "\r" whose "\n" is on its way
	}
	return d.max + len(d.delim) - 1
}
