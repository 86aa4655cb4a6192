package buffer

import "github.com/valyala/bytebufferpool"

// segment is one node of the lists inside Chain and View: a pooled block or,
// in a Chain, a slice the caller handed over with Append. The bytes not yet
// consumed are buf[r:w]. Nodes come from and go back to Pool.getSeg/putSeg.
type segment struct {
	buf []byte // a block (full capacity) or a Chain caller's slice
	r   int    // consumed up to here
	w   int    // filled up to here
	// box is the pool header of a block taken with Pool.getBox, given back
	// with putBox. It is nil for a Chain's owned slice (which has release
	// instead) and for a block pushed into a View (given back with Put).
	box     *bytebufferpool.ByteBuffer
	release func(consumed bool) // an owned slice's callback; may be nil
	next    *segment            // the next node toward the tail
}
