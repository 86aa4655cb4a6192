//go:build !linux

package relay

// Off Linux there is no splice(2): WithSplice has no effect and every
// pair relays by copy.

func (s *spliceState) close() {}

func (d *direction) spliceMore() {}

func (d *direction) drainPipe() bool { return true }

func (d *direction) flushPipe() {}
