package buffer

import "errors"

// ErrShort is returned by Ring.Peek, Ring.Next, Ring.Discard, View.Peek,
// View.Next and View.Skip when fewer bytes are buffered than were asked for.
// It is the normal "wait for more input" signal of a framing codec, so it is
// returned as is (never wrapped) and costs no allocation.
var ErrShort = errors.New("buffer: fewer bytes buffered than requested")

// ErrBufferFull is returned by Ring.Write and Ring.ReadWith when the bytes
// would take the Ring past the maximum capacity given to Ring.Init.
var ErrBufferFull = errors.New("buffer: ring is at its maximum capacity")

// ErrNegativeCount is returned by the Peek, Next, Discard and Skip methods
// when asked for a negative number of bytes.
var ErrNegativeCount = errors.New("buffer: negative count")

// ErrNoDelim is returned by View.Until when the delimiter is not among the
// buffered bytes; nothing is consumed.
var ErrNoDelim = errors.New("buffer: delimiter not found")
