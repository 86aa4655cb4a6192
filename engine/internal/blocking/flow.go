package blocking

import "math"

// Flow pauses reading a connection while its reader lags. Its fields are
// guarded by the adapter's mutex. It is in every connection of an
// adapter, so it takes 8 bytes.
type Flow struct {
	max    int32 // unread bytes past which the shard stops reading
	paused bool  // the shard has stopped reading for us
}

// NewFlow returns a Flow that pauses past max unread bytes (at most
// math.MaxInt32: a larger max is cut to it).
func NewFlow(max int) Flow { return Flow{max: int32(min(max, math.MaxInt32))} }

// Fed runs on the shard after it added input, with unread the bytes now
// waiting, under the adapter's mutex. It reports whether the shard must
// stop reading: the caller then calls ec.PauseRead, after unlocking.
func (f *Flow) Fed(unread int) (pause bool) {
	if f.paused || unread <= int(f.max) {
		return false
	}
	f.paused = true
	return true
}

// Took runs in the reader after it took input, with unread the bytes
// left, under the adapter's mutex. It reports whether reading must
// resume: the caller then calls engine.Handle.ResumeRead, after
// unlocking. That task queues behind the shard's PauseRead, which ran in
// the same callback as Fed, so the two cannot pass each other.
func (f *Flow) Took(unread int) (resume bool) {
	if !f.paused || unread > int(f.max)/2 {
		return false
	}
	f.paused = false
	return true
}

// Paused reports whether the shard has stopped reading for the reader.
// The caller holds the adapter's mutex.
func (f *Flow) Paused() bool { return f.paused }
