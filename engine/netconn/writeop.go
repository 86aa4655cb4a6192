package netconn

import (
	"sync"

	"github.com/shardnet/shardnet/buffer"
)

// writeOp is one chunk of a Write on its way to the shard: the pooled
// copy and the Conn whose in-flight count holds it. Its done callback is
// bound once, when the op is made, and ops are reused (writeOps), so a
// Write allocates no callback: a closure per chunk was garbage the size
// of an idle connection's Conn on every answer a server sent.
type writeOp struct {
	c    *Conn
	buf  []byte
	done func(error) // op.finish, bound once
	ops  *writeOps
}

// writeOps hands out writeOps and the pooled blocks their copies go in;
// one per Listener or Dialer, shared by its Conns.
type writeOps struct {
	bufs *buffer.Pool
	free sync.Pool // of *writeOp whose done has run
}

func newWriteOps() *writeOps { return &writeOps{bufs: buffer.NewPool()} }

// get returns an op holding a copy of p for c. Any goroutine.
func (w *writeOps) get(c *Conn, p []byte) *writeOp {
	op, _ := w.free.Get().(*writeOp)
	if op == nil {
		op = &writeOp{ops: w}
		op.done = op.finish
	}
	op.c = c
	op.buf = w.bufs.Get(len(p))
	copy(op.buf, p)
	return op
}

// drop gives back an op whose AsyncWrite was refused (done will not run).
func (op *writeOp) drop() {
	ops := op.ops
	ops.bufs.Put(op.buf)
	op.c, op.buf = nil, nil
	ops.free.Put(op)
}

// finish is the AsyncWrite's done, on the shard: the block goes back to
// the pool, the op to the free list (it is not touched after), and the
// Conn learns its bytes left.
func (op *writeOp) finish(err error) {
	c, size := op.c, len(op.buf)
	op.drop()
	c.wrote(size, err)
}
