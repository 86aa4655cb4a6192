package codec

import (
	"fmt"
	"math"
)

// LengthFieldConfig describes a frame that carries its own length, with the
// parameters of Netty's LengthFieldBasedFrameDecoder. A frame on the wire is
//
//	+--------------------+--------------+---------------------------+
//	| LengthFieldOffset  | length field |  rest of the frame          |
//	| bytes (any header) | Length bytes |  value+LengthAdjustment     |
//	+--------------------+--------------+---------------------------+
//
// so its total wire length is LengthFieldOffset + LengthFieldLength + value +
// LengthAdjustment, and the decoded frame is that span minus its first
// InitialBytesToStrip bytes.
type LengthFieldConfig struct {
	// MaxFrameLength is the largest total wire length accepted (header
	// included); a longer frame is ErrFrameTooLarge. Must be positive.
	MaxFrameLength int
	// LengthFieldOffset is the number of bytes before the length field.
	// Default 0.
	LengthFieldOffset int
	// LengthFieldLength is the size of the length field: 1, 2, 3, 4 or 8.
	// The value is unsigned. Zero means 4.
	LengthFieldLength int
	// LengthAdjustment is added to the length field's value to get the number
	// of bytes that follow the length field: use -(offset+length) when the
	// value counts the whole frame, or the size of extra header fields placed
	// after the length and not counted by it. Default 0; |value| < 2^31.
	LengthAdjustment int
	// InitialBytesToStrip is the number of leading bytes removed from the
	// decoded frame; LengthFieldOffset+LengthFieldLength strips the whole
	// header. Default 0.
	InitialBytesToStrip int
	// LittleEndian selects little-endian byte order for the length field.
	// The default is big-endian (network order).
	LittleEndian bool
}

// LengthField decodes and encodes length-prefixed frames. It is built by
// NewLengthField, which validates the configuration once. Decode is safe for
// concurrent use; Encode uses scratch space in the LengthField, so one
// goroutine at a time (one per connection, as the shard model gives).
type LengthField struct {
	cfg     LengthFieldConfig
	end     int // LengthFieldOffset + LengthFieldLength: where the length field ends
	hdr     [24]byte
	scratch [2][]byte
}

// NewLengthField validates cfg and returns a LengthField for it. The error
// wraps ErrInvalidConfig and names the bad field.
func NewLengthField(cfg LengthFieldConfig) (*LengthField, error) {
	if cfg.LengthFieldLength == 0 {
		cfg.LengthFieldLength = 4
	}
	switch cfg.LengthFieldLength {
	case 1, 2, 3, 4, 8:
	default:
		return nil, fmt.Errorf("%w: LengthFieldLength %d is not 1, 2, 3, 4 or 8", ErrInvalidConfig, cfg.LengthFieldLength)
	}
	if cfg.MaxFrameLength <= 0 {
		return nil, fmt.Errorf("%w: MaxFrameLength %d must be positive", ErrInvalidConfig, cfg.MaxFrameLength)
	}
	// The offset is capped so the header fits the encoder's scratch array and
	// the header sum can never overflow.
	if cfg.LengthFieldOffset < 0 || cfg.LengthFieldOffset > 16 {
		return nil, fmt.Errorf("%w: LengthFieldOffset %d is outside [0, 16]", ErrInvalidConfig, cfg.LengthFieldOffset)
	}
	if cfg.LengthAdjustment <= math.MinInt32 || cfg.LengthAdjustment >= math.MaxInt32 {
		return nil, fmt.Errorf("%w: LengthAdjustment %d is outside the int32 range", ErrInvalidConfig, cfg.LengthAdjustment)
	}
	end := cfg.LengthFieldOffset + cfg.LengthFieldLength
	if cfg.InitialBytesToStrip < 0 {
		return nil, fmt.Errorf("%w: InitialBytesToStrip %d is negative", ErrInvalidConfig, cfg.InitialBytesToStrip)
	}
	if end > cfg.MaxFrameLength {
		return nil, fmt.Errorf("%w: MaxFrameLength %d is smaller than the %d-byte header", ErrInvalidConfig, cfg.MaxFrameLength, end)
	}
	return &LengthField{cfg: cfg, end: end}, nil
}

// Config returns the validated configuration, with defaults filled in.
func (f *LengthField) Config() LengthFieldConfig { return f.cfg }

// Decode returns the next frame (without its first InitialBytesToStrip
// bytes) and its total wire length n. It reports ErrFrameTooLarge as soon as
// the length field is readable, before waiting for the body, and an error
// wrapping ErrMalformed when the length is smaller than the header or than
// the bytes to strip.
func (f *LengthField) Decode(src Source) (frame []byte, n int, err error) {
	if src.Buffered() < f.end {
		return nil, 0, ErrNeedMore
	}
	hdr, err := src.Peek(f.end)
	if err != nil {
		return nil, 0, err
	}
	v := f.readLength(hdr[f.cfg.LengthFieldOffset:f.end])
	// The value is unsigned and may be up to 2^64-1; compare before converting
	// so the sum below cannot overflow (adjustment and end are < 2^32).
	if v > uint64(math.MaxInt64/2) {
		return nil, 0, fmt.Errorf("%w: length field %d at offset %d exceeds %d", ErrFrameTooLarge, v, f.cfg.LengthFieldOffset, f.cfg.MaxFrameLength)
	}
	total := int64(v) + int64(f.cfg.LengthAdjustment) + int64(f.end)
	if total < int64(f.end) {
		return nil, 0, fmt.Errorf("%w: length field %d at offset %d gives frame length %d, less than the %d-byte header", ErrMalformed, v, f.cfg.LengthFieldOffset, total, f.end)
	}
	if total > int64(f.cfg.MaxFrameLength) {
		return nil, 0, fmt.Errorf("%w: length field %d at offset %d gives frame length %d, limit %d", ErrFrameTooLarge, v, f.cfg.LengthFieldOffset, total, f.cfg.MaxFrameLength)
	}
	if int64(f.cfg.InitialBytesToStrip) > total {
		return nil, 0, fmt.Errorf("%w: frame length %d (length field at offset %d) is less than InitialBytesToStrip %d", ErrMalformed, total, f.cfg.LengthFieldOffset, f.cfg.InitialBytesToStrip)
	}
	n = int(total)
	if src.Buffered() < n {
		return nil, 0, ErrNeedMore
	}
	b, err := src.Peek(n)
	if err != nil {
		return nil, 0, err
	}
	return b[f.cfg.InitialBytesToStrip:n:n], n, nil
}

// readLength reads the unsigned length field b in the configured byte order.
func (f *LengthField) readLength(b []byte) uint64 {
	var v uint64
	if f.cfg.LittleEndian {
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// AppendHeader appends the header of a frame whose bytes after the length
// field (everything the length field plus LengthAdjustment counts) are
// bodyLen long: prefix, which must be LengthFieldOffset bytes (nil means that
// many zeros), then the length field. It returns an error wrapping
// ErrFrameTooLarge if the frame would pass MaxFrameLength, or
// ErrInvalidConfig if the length does not fit the field.
func (f *LengthField) AppendHeader(dst, prefix []byte, bodyLen int) ([]byte, error) {
	off := f.cfg.LengthFieldOffset
	if prefix != nil && len(prefix) != off {
		return dst, fmt.Errorf("%w: prefix is %d bytes, LengthFieldOffset is %d", ErrInvalidConfig, len(prefix), off)
	}
	if bodyLen < 0 || bodyLen > f.cfg.MaxFrameLength-f.end {
		return dst, fmt.Errorf("%w: body of %d bytes makes a frame longer than MaxFrameLength %d", ErrFrameTooLarge, bodyLen, f.cfg.MaxFrameLength)
	}
	v := int64(bodyLen) - int64(f.cfg.LengthAdjustment)
	width := f.cfg.LengthFieldLength
	if v < 0 || (width < 8 && v >= int64(1)<<(8*width)) {
		return dst, fmt.Errorf("%w: body of %d bytes needs length value %d, which a %d-byte LengthFieldLength cannot hold", ErrInvalidConfig, bodyLen, v, width)
	}
	if prefix == nil {
		for range off {
			dst = append(dst, 0)
		}
	} else {
		dst = append(dst, prefix...)
	}
	u := uint64(v)
	if f.cfg.LittleEndian {
		for i := range width {
			dst = append(dst, byte(u>>(8*i)))
		}
		return dst, nil
	}
	for i := width - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*i)))
	}
	return dst, nil
}

// AppendFrame appends a whole frame, header (see AppendHeader) then body, to
// dst. With InitialBytesToStrip equal to LengthFieldOffset+LengthFieldLength,
// Decode of the result returns body.
func (f *LengthField) AppendFrame(dst, prefix, body []byte) ([]byte, error) {
	dst, err := f.AppendHeader(dst, prefix, len(body))
	if err != nil {
		return dst, err
	}
	return append(dst, body...), nil
}

// Encode writes a frame (see AppendHeader) to s without copying body: the
// header is built in f's scratch space and header and body go to s in one
// Writev when s is a VectorSink, else in two Writes. One goroutine at a time.
func (f *LengthField) Encode(s Sink, prefix, body []byte) error {
	hdr, err := f.AppendHeader(f.hdr[:0], prefix, len(body))
	if err != nil {
		return err
	}
	return writeFrame(s, &f.scratch, hdr, body)
}
