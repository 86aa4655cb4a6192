package rpc

import (
	"encoding/binary"
	"fmt"

	"github.com/shardnet/shardnet/codec"
)

// A frame on the wire, every field big-endian:
//
//	+--------+------------+--------+-------+--------+-----------------+
//	| length | request ID | method | flags | status | payload ...     |
//	|  4 B   |    8 B     |  2 B   |  1 B  |  1 B   | length-12 bytes |
//	+--------+------------+--------+-------+--------+-----------------+
//
// length counts everything after itself, so codec.LengthField frames the
// stream with its defaults (a 4-byte big-endian length at offset 0). The
// request ID is the client's: the server copies it into the answer, which
// is how answers find their calls out of order. The method is a number,
// not a name, so dispatch is one map lookup with no string on the wire.

// HeaderSize is the size of a frame's header, length field included.
const HeaderSize = 16

// DefaultMaxFrame is the largest frame, header included, that clients and
// servers accept unless told otherwise.
const DefaultMaxFrame = 4 << 20

// Flags says what kind of frame this is.
type Flags uint8

const (
	// FlagResponse marks an answer; a frame without it is a request.
	FlagResponse Flags = 1 << iota

	flagsKnown = FlagResponse
)

// Status is a response's outcome; requests carry 0.
type Status uint8

const (
	// StatusOK means the call succeeded: the payload is the result.
	StatusOK Status = iota
	// StatusUnknownMethod means the server has no handler for the method.
	StatusUnknownMethod
	// StatusApplication means the handler returned an error; the payload
	// is its message.
	StatusApplication
	// StatusShuttingDown means the server is stopping and did not run the
	// call.
	StatusShuttingDown
	// StatusBusy means the server's offload queue was full; the call did
	// not run.
	StatusBusy

	statusCount
)

// sentinel maps a status to the error a caller matches it with.
func (s Status) sentinel() error {
	switch s {
	case StatusUnknownMethod:
		return ErrUnknownMethod
	case StatusApplication:
		return ErrApplication
	case StatusShuttingDown:
		return ErrShuttingDown
	case StatusBusy:
		return ErrServerBusy
	}
	return ErrApplication
}

// Header is a frame's header, decoded.
type Header struct {
	Length uint32 // bytes after the length field: 12 + the payload's length
	ID     uint64 // the request ID, echoed in the answer
	Method uint16 // which handler
	Flags  Flags  // FlagResponse or none
	Status Status // a response's outcome; 0 in requests
}

// PayloadLen returns the payload's length.
func (h Header) PayloadLen() int { return int(h.Length) - (HeaderSize - 4) }

// AppendHeader appends h for a payload of payloadLen bytes (h.Length is
// ignored and computed) to dst.
func AppendHeader(dst []byte, h Header, payloadLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(HeaderSize-4+payloadLen))
	dst = binary.BigEndian.AppendUint64(dst, h.ID)
	dst = binary.BigEndian.AppendUint16(dst, h.Method)
	return append(dst, byte(h.Flags), byte(h.Status))
}

// putHeader writes h for a payload of payloadLen bytes into b[:HeaderSize].
func putHeader(b []byte, h Header, payloadLen int) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b, uint32(HeaderSize-4+payloadLen))
	binary.BigEndian.PutUint64(b[4:], h.ID)
	binary.BigEndian.PutUint16(b[12:], h.Method)
	b[14], b[15] = byte(h.Flags), byte(h.Status)
}

// DecodeHeader decodes the header at the start of frame, a whole frame as
// the length-field decoder returns it (length field included). It checks
// that the length field agrees with len(frame), that the frame holds a
// header, and that no unknown flag or status is set; it returns an error
// wrapping ErrBadHeader otherwise.
func DecodeHeader(frame []byte) (Header, error) {
	if len(frame) < HeaderSize {
		return Header{}, fmt.Errorf("%w: frame of %d bytes, shorter than the %d-byte header", ErrBadHeader, len(frame), HeaderSize)
	}
	h := Header{
		Length: binary.BigEndian.Uint32(frame),
		ID:     binary.BigEndian.Uint64(frame[4:]),
		Method: binary.BigEndian.Uint16(frame[12:]),
		Flags:  Flags(frame[14]),
		Status: Status(frame[15]),
	}
	if uint64(h.Length)+4 != uint64(len(frame)) {
		return Header{}, fmt.Errorf("%w: length field %d, frame of %d bytes", ErrBadHeader, h.Length, len(frame))
	}
	if h.Flags&^flagsKnown != 0 {
		return Header{}, fmt.Errorf("%w: unknown flags %#02x", ErrBadHeader, uint8(h.Flags))
	}
	if h.Status >= statusCount || (h.Flags&FlagResponse == 0 && h.Status != StatusOK) {
		return Header{}, fmt.Errorf("%w: status %d in a frame with flags %#02x", ErrBadHeader, uint8(h.Status), uint8(h.Flags))
	}
	return h, nil
}

// newFramer returns the length-field decoder for frames of at most
// maxFrame bytes. The whole frame is returned, length field included, so
// DecodeHeader can check the length against what arrived.
func newFramer(maxFrame int) (*codec.LengthField, error) {
	return codec.NewLengthField(codec.LengthFieldConfig{MaxFrameLength: maxFrame, LengthFieldLength: 4})
}
