// Package blocking is the one blocking layer of shardnet's adapters: what
// lets a goroutine wait on a shard connection without the shard ever
// waiting on the goroutine. engine/netconn (net.Conn) and
// engine/netpollconn (netpoll's Reader) both build on it, and so does the
// engine's own TLS handshake, which runs on a goroutine over a blocking
// view of its connection (it imports nothing of the engine's, so the
// engine may use it); each keeps its
// own buffer, and this package gives them the rest:
//
//   - Gate parks one goroutine at a time (the adapter lets callers of one
//     kind take turns) until the shard, a deadline's timer or Close wakes
//     it. Waking never blocks and never polls; a wake-up only says "look
//     again", and reaches a goroutine already parked: the waker changes
//     what the waiter looks at under the adapter's mutex first. The zero
//     Gate is ready and small (it is in every idle connection), so
//     adapters embed it.
//   - Gate's deadline is a Go timer, armed by SetDeadline, that marks the
//     gate expired and wakes it; an expired gate fails the parked or next
//     call, and a new deadline lets the caller wait again.
//   - Flow is the read side's back-pressure: past a bound of unread input
//     the shard stops reading the socket (engine.Conn.PauseRead), and the
//     reader resumes it (engine.Handle.ResumeRead) once it has taken the input
//     down to half.
//
// Every method documents the lock it needs: the adapter's mutex, which
// guards its buffer, its end state and the Gate and Flow fields together,
// so that a check and the wait that follows it cannot miss a wake-up.
package blocking
