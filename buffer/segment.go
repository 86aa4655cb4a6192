package buffer

// segment is one node of the lists inside Chain and View: a pooled block or,
// in a Chain, a slice the caller handed over with Append. The bytes not yet
// consumed are buf[r:w]. Nodes come from and go back to Pool.getSeg/putSeg.
type segment struct {
	buf     []byte     // a pooled block (full capacity) or the caller's slice
	r, w    int        // consumed up to r; filled up to w
	release func(bool) // an owned slice's callback; may be nil
	owned   bool       // buf is the caller's: run release, never Put it
	next    *segment   // the next node toward the tail
}
