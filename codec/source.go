package codec

import "fmt"

// Source is the read side a decoder works over: a buffer of received bytes
// that can be looked at without copying and then consumed. The engine's Conn
// and buffer.Ring satisfy it, and Bytes is an in-memory one.
//
// Decoders call Peek only with n <= Buffered(), and never call Discard: the
// caller discards a frame's wire length once it is done with the frame.
type Source interface {
	// Buffered reports how many bytes can be peeked now.
	Buffered() int
	// Peek returns exactly the next n bytes as one contiguous slice, without
	// copying when they are already contiguous. The slice stays valid until
	// the next Discard.
	Peek(n int) ([]byte, error)
	// Discard consumes the next n bytes and reports how many it consumed.
	Discard(n int) (int, error)
}

// Decoder is implemented by the framing decoders (LengthField, Delimiter,
// Fixed). Decode returns the next complete frame and its wire length n, or
// ErrNeedMore, or an error that means the stream cannot be framed any more.
//
// The frame aliases the source: it stays valid until the caller calls
// src.Discard(n), which it must do before decoding the next frame. n may be
// larger than len(frame) (a stripped header or delimiter).
type Decoder interface {
	// Decode returns the next frame and its wire length, ErrNeedMore, or
	// an error after which the stream cannot be framed.
	Decode(src Source) (frame []byte, n int, err error)
}

// Sink is the write side an encoder writes to, such as the engine's Conn or
// buffer.Chain. Write must take (copy or send) all of p before it returns: an
// encoder may reuse the memory of a header it passed.
type Sink interface {
	// Write queues all of p for sending, or returns an error.
	Write(p []byte) (int, error)
}

// VectorSink is a Sink that can take several slices in one call, which lets
// an encoder hand over a header and a payload to a single writev without
// first joining them. Encoders use it when the Sink they get implements it.
type VectorSink interface {
	Sink
	// Writev writes all of bufs in order, like Write on their concatenation.
	Writev(bufs [][]byte) (int, error)
}

// Bytes is an in-memory Source and Sink over one growable slice, for tests,
// examples and code that already holds its input in memory. The zero value is
// an empty buffer ready to use. Peek never copies: every byte is contiguous.
type Bytes struct {
	buf []byte // buf[off:] is unread
	off int
}

// NewBytes returns a Bytes that reads b, which it does not copy. The Bytes
// owns b from then on: Write may append into b's spare capacity, and reuse
// b's memory once all of it has been consumed.
func NewBytes(b []byte) *Bytes { return &Bytes{buf: b} }

// Write appends p to the unread bytes. It always succeeds. It never moves
// or overwrites unread bytes, so slices from an earlier Peek stay valid
// until Discard as promised: when the slice is full it moves the unread
// bytes to a new one (dropping the consumed ones, so a long stream does not
// grow it forever), leaving the old memory to the peeked slices.
func (b *Bytes) Write(p []byte) (int, error) {
	if b.off == len(b.buf) && b.off > 0 {
		// Everything was consumed: start again at the front instead of
		// growing. Peeked slices are already dead (Discard happened).
		b.buf, b.off = b.buf[:0], 0
	}
	if b.off > 0 && len(b.buf)+len(p) > cap(b.buf) {
		unread := len(b.buf) - b.off
		nb := make([]byte, unread, 2*(unread+len(p)))
		copy(nb, b.buf[b.off:])
		b.buf, b.off = nb, 0
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Writev appends every slice of bufs, so Bytes is also a VectorSink.
func (b *Bytes) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, p := range bufs {
		m, _ := b.Write(p)
		n += m
	}
	return n, nil
}

// Buffered reports the number of unread bytes.
func (b *Bytes) Buffered() int { return len(b.buf) - b.off }

// Peek returns the next n unread bytes without copying. It returns an error
// wrapping ErrNeedMore if fewer than n are buffered.
func (b *Bytes) Peek(n int) ([]byte, error) {
	if n < 0 || n > b.Buffered() {
		return nil, fmt.Errorf("%w: peek %d bytes with %d buffered", ErrNeedMore, n, b.Buffered())
	}
	return b.buf[b.off : b.off+n : b.off+n], nil
}

// Discard consumes up to n unread bytes and reports how many it consumed;
// asking for more than is buffered consumes all and returns ErrNeedMore.
func (b *Bytes) Discard(n int) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("%w: discard %d bytes", ErrInvalidConfig, n)
	}
	if n > b.Buffered() {
		m := b.Buffered()
		b.off = len(b.buf)
		return m, fmt.Errorf("%w: discard %d bytes with %d buffered", ErrNeedMore, n, m)
	}
	b.off += n
	return n, nil
}

// Bytes returns the unread bytes without copying; they stay valid until the
// next Discard or Write.
func (b *Bytes) Bytes() []byte { return b.buf[b.off:] }

// Reset empties the buffer, keeping its memory for reuse.
func (b *Bytes) Reset() { b.buf, b.off = b.buf[:0], 0 }

// writeFrame hands header and payload to s: in one Writev when s supports it
// (scratch holds the two-slice vector so building it does not allocate), or
// as two Writes.
func writeFrame(s Sink, scratch *[2][]byte, header, payload []byte) error {
	if vs, ok := s.(VectorSink); ok {
		scratch[0], scratch[1] = header, payload
		_, err := vs.Writev(scratch[:])
		scratch[0], scratch[1] = nil, nil // do not keep the payload alive
		return err
	}
	if _, err := s.Write(header); err != nil {
		return err
	}
	if len(payload) == 0 {
		return nil
	}
	_, err := s.Write(payload)
	return err
}
