package relay

// spliceState is a direction's pipe, for the splice path. Loop only.
type spliceState struct {
	r, w    int  // the pipe's ends, -1 until first used
	size    int  // the pipe's capacity
	n       int  // bytes in the pipe
	off     bool // splice failed to start on these sockets: copy instead
	used    bool // a splice from src has succeeded
	stalled bool // dst was full: the pipe waits for dst's OnDrained
}

// stall runs when dst cannot take bytes that must go before the next
// splice (bytes left in the pipe, or in dst's engine queue): it asks the
// engine to say when dst has sent its queue and is writable again (dst's
// OnDrained, then unstall) and pauses src until then, since a lead read
// meanwhile would overtake the bytes that wait.
func (d *direction) stall() {
	d.sp.stalled = true
	if d.dst.NotifyWritable() != nil {
		return // dst is closing: the pair ends with it
	}
	d.hold(holdStall)
}

// unstall runs from dst's OnDrained after a stall: dst takes bytes again,
// so the rest of the pipe follows, and src is read again once the pipe is
// empty.
func (d *direction) unstall() {
	if !d.sp.stalled || d.dst.Closed() {
		return
	}
	d.sp.stalled = false
	if d.sp.n > 0 && !d.drainPipe() {
		return
	}
	d.unhold(holdStall)
}
