package rpc

import (
	"github.com/shardnet/shardnet/engine"
)

// job is one blocking call on its way through the offload pool and back:
// the request copied off the shard, the answer frame built on the worker
// and sent with AsyncWrite. Jobs are pooled with their buffers and their
// bound functions, so a blocking call allocates nothing of its own.
type job struct {
	s    *Server
	c    *engine.Conn // used only through AsyncWrite, which is safe from any goroutine
	hd   Header
	fn   HandlerFunc
	req  []byte
	buf  []byte // the job's own answer buffer, handed to the handler
	out  []byte // the answer: buf grown, or the handler's own memory
	hdr  [HeaderSize]byte
	iov  [2][]byte // hdr and out, for AsyncWritev
	run  func()    // j.work, bound once
	done func(error)
}

func newJob(s *Server) *job {
	j := &job{s: s}
	j.run = j.work
	j.done = j.sent
	return j
}

// offloadCall hands a blocking call to the pool. Loop only.
func (s *Server) offloadCall(c *engine.Conn, hd Header, fn HandlerFunc, req []byte) {
	j := s.jobs.Get().(*job)
	j.c, j.hd, j.fn = c, hd, fn
	j.req = append(j.req[:0], req...)
	s.offload.Add(1)
	if err := c.Engine().Offload(j.run); err != nil {
		s.offload.Add(-1)
		s.release(j)
		s.stats.refused.Add(1)
		s.fail(c, hd, StatusBusy, err.Error())
	}
}

// work runs on a worker: the handler, then the answer's trip back.
func (j *job) work() {
	s := j.s
	out, err := j.fn(j.req, j.buf[:0])
	st := StatusOK
	switch {
	case err != nil:
		st, out = StatusApplication, append(j.buf[:0], err.Error()...)
	case len(out)+HeaderSize > s.cfg.maxFrame:
		st, out = StatusApplication, append(j.buf[:0], "answer longer than the frame limit"...)
	}
	s.stats.calls.Add(1)
	if st != StatusOK {
		s.stats.errors.Add(1)
	}
	putHeader(j.hdr[:], Header{ID: j.hd.ID, Method: j.hd.Method, Flags: FlagResponse, Status: st}, len(out))
	j.out = out
	j.iov[0], j.iov[1] = j.hdr[:], out
	if err := j.c.AsyncWritev(j.iov[:], j.done); err != nil {
		// done will not run: the connection or the engine is gone, and
		// with it the caller, who gets ErrConnLost.
		j.sent(err)
	}
}

// sent runs once the answer left (or could not): the job goes back.
func (j *job) sent(error) {
	s := j.s
	s.release(j)
	s.offload.Add(-1)
}

// release returns a job to the pool, dropping what it pointed at.
func (s *Server) release(j *job) {
	j.c, j.fn = nil, nil
	j.iov[0], j.iov[1] = nil, nil
	if cap(j.req) > 64<<10 {
		j.req = nil
	}
	// Keep a buffer as large as the last answer, but never the answer's
	// own memory: the handler may have returned req or a slice it keeps.
	if c := cap(j.out); c > cap(j.buf) && c <= 64<<10 {
		j.buf = make([]byte, 0, c)
	}
	j.out = nil
	s.jobs.Put(j)
}
