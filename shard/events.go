package shard

// Events is a set of readiness interests (given to Watch and Modify) or of
// readiness conditions (given to a Handler). The values are epoll's own, so
// the Linux poller passes them through without translation.
type Events uint32

const (
	// EventRead asks for, or reports, read readiness (EPOLLIN).
	EventRead Events = 0x1
	// EventWrite asks for, or reports, write readiness (EPOLLOUT).
	EventWrite Events = 0x4
	// EventErr reports an error condition on the fd (EPOLLERR); it is
	// always reported, never asked for.
	EventErr Events = 0x8
	// EventHup reports a hang-up (EPOLLHUP): both directions are closed.
	EventHup Events = 0x10
	// EventPeerClosed asks for, or reports, the peer's half-close of a
	// stream socket (EPOLLRDHUP); a read then returns EOF once the buffered
	// bytes are consumed.
	EventPeerClosed Events = 0x2000
	// EventOneShot disarms the fd after one report until Modify re-arms it
	// (EPOLLONESHOT).
	EventOneShot Events = 1 << 30
	// EventEdge asks for edge-triggered reports (EPOLLET): a condition is
	// reported when it appears, not for as long as it holds. The default is
	// level-triggered.
	EventEdge Events = 1 << 31
)

// interest is the part of Events that Watch and Modify accept.
const interest = EventRead | EventWrite | EventPeerClosed | EventOneShot | EventEdge

// Handler receives readiness reports for a watched fd. HandleEvents runs on
// the loop's goroutine and must not block.
type Handler interface {
	HandleEvents(fd int, ev Events)
}

// HandlerFunc adapts a function to Handler. A func value fits an interface
// without an allocation.
type HandlerFunc func(fd int, ev Events)

// HandleEvents calls f(fd, ev).
func (f HandlerFunc) HandleEvents(fd int, ev Events) { f(fd, ev) }
