package codec

import "fmt"

// Fixed decodes frames of one fixed size. It holds no state and is safe for
// concurrent use.
type Fixed struct {
	size int
}

// NewFixed returns a decoder for frames of size bytes (at least 1).
func NewFixed(size int) (*Fixed, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: size %d must be positive", ErrInvalidConfig, size)
	}
	return &Fixed{size: size}, nil
}

// Size returns the frame size.
func (f *Fixed) Size() int { return f.size }

// Decode returns the next size bytes as a frame, with n == size, or
// ErrNeedMore while fewer are buffered.
func (f *Fixed) Decode(src Source) (frame []byte, n int, err error) {
	if src.Buffered() < f.size {
		return nil, 0, ErrNeedMore
	}
	b, err := src.Peek(f.size)
	if err != nil {
		return nil, 0, err
	}
	return b[:f.size:f.size], f.size, nil
}

// Encode writes frame, which must be exactly Size bytes, to s. It returns an
// error wrapping ErrInvalidConfig for any other length, since such a frame
// would desynchronise the stream.
func (f *Fixed) Encode(s Sink, frame []byte) error {
	if len(frame) != f.size {
		return fmt.Errorf("%w: frame is %d bytes, size is %d", ErrInvalidConfig, len(frame), f.size)
	}
	_, err := s.Write(frame)
	return err
}
