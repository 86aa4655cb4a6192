package peer

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/codec"
)

// The HTTP behaviour every peer shares, so that the comparison measures the
// engines and not the parsers: requests are parsed by shardnet's
// codec.HTTPDecoder over a codec.Source that wraps the peer's own input
// buffer; every complete request of one read is answered in order and all
// the answers of that read leave in one write; every request gets the same
// plaintext response, whose Date is refreshed once a second.

// MaxBody bounds a request body the servers wait for (wrk sends none).
const MaxBody = 64 << 10

// httpDecoder is shared by every connection: it holds only its limits.
var httpDecoder = mustDecoder()

func mustDecoder() *codec.HTTPDecoder {
	d, err := codec.NewHTTPDecoder(codec.HTTPLimits{MaxBody: MaxBody})
	if err != nil {
		panic("peer: HTTP limits rejected: " + err.Error())
	}
	return d
}

// httpBody is what every request is answered with.
const httpBody = "Hello, World!"

// responses holds the keep-alive and the closing response with the current
// Date; refreshDate swaps in new ones once a second.
type responses struct {
	keepAlive []byte
	closing   []byte
}

var currentResponses atomic.Pointer[responses]

func buildResponses(now time.Time) *responses {
	date := codec.AppendDate(nil, now)
	mk := func(close bool) []byte {
		r := codec.Response{Status: 200, ContentType: "text/plain", ContentLength: int64(len(httpBody)), Date: date, Close: close}
		return append(r.AppendHead(nil), httpBody...)
	}
	return &responses{keepAlive: mk(false), closing: mk(true)}
}

// StartDateClock sets the responses and refreshes them once a second.
func StartDateClock() {
	currentResponses.Store(buildResponses(time.Now()))
	go func() {
		for now := range time.Tick(time.Second) {
			currentResponses.Store(buildResponses(now))
		}
	}()
}

// errorResponse answers a request the decoder rejected; the connection is
// closed after it.
var errorResponse = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// Scratch is the per-read working memory: a parsed request head and the
// responses gathered for one write. Its fields are the decoder's output and the responses; it comes from a pool (every peer the
// same way), so it costs nothing per idle connection.
type Scratch struct {
	Req codec.Request
	Out []byte
	// Slice is a reusable SliceSource and Adapter a peer's reusable
	// codec.Source adapter: passing a fresh adapter value as a
	// codec.Source would allocate on every read.
	Slice   SliceSource
	Adapter any
}

var scratchPool = sync.Pool{New: func() any { return &Scratch{Out: make([]byte, 0, 4096)} }}

// GetScratch takes a Scratch from the pool.
func GetScratch() *Scratch { return scratchPool.Get().(*Scratch) }

// PutScratch returns s to the pool.
func PutScratch(s *Scratch) {
	if cap(s.Out) > 1<<20 {
		s.Out = make([]byte, 0, 4096)
	}
	s.Out = s.Out[:0]
	s.Slice = SliceSource{}
	scratchPool.Put(s)
}

// ServeHTTP answers every complete request buffered in src, in order: it
// appends each response to s.Out and discards the request. It returns true
// when the connection must be closed once s.Out has been written (the client
// asked for it, or sent a request the decoder rejected).
func ServeHTTP(src codec.Source, s *Scratch) (closeAfter bool) {
	resp := currentResponses.Load()
	for {
		n, err := httpDecoder.Decode(src, &s.Req)
		if err != nil {
			if errors.Is(err, codec.ErrNeedMore) {
				return false
			}
			s.Out = append(s.Out, errorResponse...)
			return true
		}
		if s.Req.Chunked {
			s.Out = append(s.Out, errorResponse...)
			return true
		}
		total := n + int(s.Req.ContentLength)
		if src.Buffered() < total {
			return false // wait for the whole body
		}
		keep := s.Req.KeepAlive
		if keep {
			s.Out = append(s.Out, resp.keepAlive...)
		} else {
			s.Out = append(s.Out, resp.closing...)
		}
		src.Discard(total)
		if !keep {
			return true
		}
	}
}

// SliceSource is a codec.Source over bytes the peer already holds in one
// slice (Go's net read buffer, nbio's read buffer or a connection's
// leftover).
type SliceSource struct {
	B []byte
	r int
}

// Buffered, Peek and Discard make SliceSource a codec.Source.
func (s *SliceSource) Buffered() int { return len(s.B) - s.r }

func (s *SliceSource) Peek(n int) ([]byte, error) {
	if n > len(s.B)-s.r {
		return nil, codec.ErrNeedMore
	}
	return s.B[s.r : s.r+n], nil
}

func (s *SliceSource) Discard(n int) (int, error) {
	n = min(n, len(s.B)-s.r)
	s.r += n
	return n, nil
}

// Rest returns the bytes not yet consumed.
func (s *SliceSource) Rest() []byte { return s.B[s.r:] }
