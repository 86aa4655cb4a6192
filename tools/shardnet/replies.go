//go:build linux

package main

import "github.com/shardnet/shardnet/engine"

// The http and kv servers answer every complete request of one read in a
// batch gathered in their shard's scratch buffer, and hand the batch to the
// connection in one Write.
const (
	// replyMaxBatch is how many reply bytes one batch gathers: a client
	// that pipelines thousands of small requests into one read gets its
	// answers in bounded pieces, so the shard's scratch buffer stays small.
	replyMaxBatch = 64 << 10
	// replyMaxScratch is the capacity past which a shard drops its scratch
	// buffer instead of keeping it for the next batch.
	replyMaxScratch = 1 << 20
	// replyScratch is the capacity of a fresh scratch buffer.
	replyScratch = 4096
)

// sendReplies writes the batch out to c and keeps out's memory, emptied,
// in *scratch for the next batch (a fresh buffer if out grew past
// replyMaxScratch). It reports false, leaving *scratch as it was, when the
// write failed and c was aborted: past WithMaxQueuedOutput the client sends
// and never reads, and is dropped rather than buffered without bound. Loop
// only.
func sendReplies(c *engine.Conn, out []byte, scratch *[]byte) bool {
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			c.Abort()
			return false
		}
	}
	if cap(out) > replyMaxScratch {
		out = make([]byte, 0, replyScratch)
	}
	*scratch = out[:0]
	return true
}
