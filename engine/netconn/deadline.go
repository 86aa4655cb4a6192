package netconn

import "time"

// deadline is one direction's deadline. Its fields are guarded by the
// Conn's mu. A Go timer, not the shard's, marks it expired: it has to wake
// a goroutine, not the shard, and costs the shard nothing.
type deadline struct {
	t       *time.Timer
	gen     uint64 // counts set calls, so that a timer of an older one is ignored
	expired bool
}

// set replaces the deadline with t (zero: none). A t already past expires
// it at once; a future one arms a timer that calls fire with the
// generation it was armed for.
func (d *deadline) set(t time.Time, fire func(gen uint64)) {
	d.stop()
	d.gen++
	d.expired = false
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expired = true
		return
	}
	gen := d.gen
	d.t = time.AfterFunc(wait, func() { fire(gen) })
}

// stop drops the timer, if any.
func (d *deadline) stop() {
	if d.t != nil {
		d.t.Stop()
		d.t = nil
	}
}
