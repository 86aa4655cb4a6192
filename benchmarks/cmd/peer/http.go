package main

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

// httpMaxBody bounds a request body the servers wait for (wrk sends none).
const httpMaxBody = 64 << 10

// httpDecoder is shared by every connection: it holds only its limits.
var httpDecoder = mustDecoder()

func mustDecoder() *codec.HTTPDecoder {
	d, err := codec.NewHTTPDecoder(codec.HTTPLimits{MaxBody: httpMaxBody})
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

// startDateClock sets the responses and refreshes them once a second.
func startDateClock() {
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

// httpScratch is the per-read working memory: a parsed request head and the
// responses gathered for one write. It comes from a pool (every peer the
// same way), so it costs nothing per idle connection.
type httpScratch struct {
	req codec.Request
	out []byte
}

var scratchPool = sync.Pool{New: func() any { return &httpScratch{out: make([]byte, 0, 4096)} }}

func getScratch() *httpScratch { return scratchPool.Get().(*httpScratch) }

func putScratch(s *httpScratch) {
	if cap(s.out) > 1<<20 {
		s.out = make([]byte, 0, 4096)
	}
	s.out = s.out[:0]
	scratchPool.Put(s)
}

// serveHTTP answers every complete request buffered in src, in order: it
// appends each response to s.out and discards the request. It returns true
// when the connection must be closed once s.out has been written (the client
// asked for it, or sent a request the decoder rejected).
func serveHTTP(src codec.Source, s *httpScratch) (closeAfter bool) {
	resp := currentResponses.Load()
	for {
		n, err := httpDecoder.Decode(src, &s.req)
		if err != nil {
			if errors.Is(err, codec.ErrNeedMore) {
				return false
			}
			s.out = append(s.out, errorResponse...)
			return true
		}
		if s.req.Chunked {
			s.out = append(s.out, errorResponse...)
			return true
		}
		total := n + int(s.req.ContentLength)
		if src.Buffered() < total {
			return false // wait for the whole body
		}
		keep := s.req.KeepAlive
		if keep {
			s.out = append(s.out, resp.keepAlive...)
		} else {
			s.out = append(s.out, resp.closing...)
		}
		src.Discard(total)
		if !keep {
			return true
		}
	}
}

// sliceSource is a codec.Source over bytes the peer already holds in one
// slice (Go's net read buffer, nbio's read buffer or a connection's
// leftover).
type sliceSource struct {
	b []byte
	r int
}

func (s *sliceSource) Buffered() int { return len(s.b) - s.r }

func (s *sliceSource) Peek(n int) ([]byte, error) {
	if n > len(s.b)-s.r {
		return nil, codec.ErrNeedMore
	}
	return s.b[s.r : s.r+n], nil
}

func (s *sliceSource) Discard(n int) (int, error) {
	n = min(n, len(s.b)-s.r)
	s.r += n
	return n, nil
}

// rest returns the bytes not yet consumed.
func (s *sliceSource) rest() []byte { return s.b[s.r:] }
