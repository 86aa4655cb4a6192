//go:build linux

package main

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// httpDefaultIdle is the -idle default of the http command. An HTTP server
// with no timeout at all would let any client hold a connection (and, with
// a partial head, a buffer) forever; 10 s is long enough for a browser's
// keep-alive and short enough to shed slowloris clients quickly.
const httpDefaultIdle = 10 * time.Second

// The bodies the server answers with.
const (
	httpPlainBody = "Hello, World!"
	httpJSONBody  = `{"message":"Hello, World!"}`
)

// httpRoute is what a request asks for, decided while its head is still
// buffered and answered once its body has been read.
type httpRoute uint8

const (
	routePlain    httpRoute = iota // GET /plaintext
	routeJSON                      // GET /json
	routeNotFound                  // any other path: 404
	routeMethod                    // /plaintext or /json with a method other than GET or HEAD: 405
)

// httpReply is the answer owed to a request whose body is still arriving.
// It holds no slice of the request, so it outlives the head's bytes.
type httpReply struct {
	route     httpRoute
	head      bool // HEAD: the head only, without the body
	keepAlive bool // the request keeps the connection open
	minor     int  // the request's HTTP minor version
	cont      bool // the client waits for "100 Continue" before its body
}

// httpConn is one connection's state between OnTraffic calls. Loop only
// (the connection's shard).
type httpConn struct {
	// pending is the reply owed once the current request's body has been
	// read and discarded; valid while inBody is set.
	pending httpReply
	inBody  bool
	// bodyLeft counts the Content-Length body bytes still to discard.
	bodyLeft int64
	// chunked says the body is chunked and body decodes its framing.
	chunked bool
	body    codec.ChunkedBody
	// headTimed says a read deadline is set for a partially received
	// head (the slowloris defense).
	headTimed bool
}

// httpShard is the state one shard shares among its connections: a Request
// and a response buffer reused for every request (a callback finishes with
// them before the next one runs), and the formatted Date. Loop only.
type httpShard struct {
	req  codec.Request
	out  []byte
	date []byte // "Mon, 02 Jan 2006 15:04:05 GMT", rewritten once a second by OnTick
	_    [64]byte
}

// httpHandler serves /plaintext and /json over HTTP/1.x with keep-alive
// and pipelining. Each request head is parsed in place from the
// connection's buffer, answered in order, and every answer to one read
// leaves in one write.
type httpHandler struct {
	engine.BaseHandler
	dec         *codec.HTTPDecoder
	headTimeout time.Duration // a request head must arrive whole within this; 0: no limit
	shards      []httpShard   // indexed by Conn.Shard; made by OnBoot
	// closing, once set (the listening sockets are handed to a new
	// process), makes every answer close its connection: written by
	// serve's goroutine, read by the shards.
	closing atomic.Bool
}

// newHTTPHandler makes a handler; OnBoot makes its per-shard state, once
// the engine's shard count is known.
func newHTTPHandler(headTimeout time.Duration) *httpHandler {
	dec, err := codec.NewHTTPDecoder(codec.HTTPLimits{})
	if err != nil {
		panic("http: default HTTP limits rejected: " + err.Error())
	}
	return &httpHandler{dec: dec, headTimeout: headTimeout}
}

// OnBoot makes the state of each of the engine's shards. It runs before
// the first connection and the first tick, so every OnTraffic and OnTick
// finds its shard's state there.
func (h *httpHandler) OnBoot(e *engine.Engine) error {
	h.makeShards(e.Shards())
	return nil
}

// makeShards makes the state of n shards. The Date is formatted here once
// so the first responses have one before the first tick.
func (h *httpHandler) makeShards(n int) {
	h.shards = make([]httpShard, n)
	now := time.Now()
	for i := range h.shards {
		h.shards[i].date = codec.AppendDate(make([]byte, 0, 32), now)
		h.shards[i].out = make([]byte, 0, replyScratch)
	}
}

// OnOpen does nothing: a connection gets its state with its first bytes
// (OnTraffic), so one that stays idle after it opens (a client's warm
// pool, a TLS connection made ahead of use) costs the engine's part alone.
func (h *httpHandler) OnOpen(c *engine.Conn) error { return nil }

// OnTick refreshes the shard's Date once a second, so no request pays for
// reading the clock and formatting it.
func (h *httpHandler) OnTick(shard int) {
	sh := &h.shards[shard]
	sh.date = codec.AppendDate(sh.date[:0], time.Now())
}

// OnTraffic answers every complete request buffered, in order, and sets
// or clears the head deadline.
func (h *httpHandler) OnTraffic(c *engine.Conn) {
	st, _ := c.Context().(*httpConn)
	if st == nil {
		st = &httpConn{}
		c.SetContext(st)
	}
	sh := &h.shards[c.Shard()]
	for {
		out, v, began := h.serve(c, st, sh)
		if !sendReplies(c, out, &sh.out) {
			return
		}
		switch v {
		case httpFull:
			continue
		case httpClose:
			c.Close()
			return
		case httpPartialHead:
			if h.headTimeout <= 0 {
				return
			}
			// A head has begun: it must be whole within headTimeout of
			// its first byte. A head that began in this read restarts the
			// clock; one still dribbling in from before keeps its own.
			if !st.headTimed || began {
				c.SetReadDeadline(time.Now().Add(h.headTimeout))
				st.headTimed = true
			}
		default:
			if st.headTimed {
				c.SetReadDeadline(time.Time{})
				st.headTimed = false
			}
		}
		return
	}
}

// httpVerdict is what serve leaves the connection in.
type httpVerdict uint8

const (
	httpIdle        httpVerdict = iota // every byte consumed, or the rest of a body awaited
	httpPartialHead                    // part of a request head is buffered
	httpFull                           // the batch is full: write it and call serve again
	httpClose                          // write the batch and close
)

// serve answers the complete requests buffered in src and consumes them,
// returning the responses to send (in sh.out's memory), what state the
// connection is left in, and whether a new request head began, i.e. a
// request was completed in this call. It runs over any codec.Source so the
// hot path can be measured in-process without sockets.
func (h *httpHandler) serve(src codec.Source, st *httpConn, sh *httpShard) (out []byte, v httpVerdict, began bool) {
	out = sh.out[:0]
	for len(out) < replyMaxBatch {
		if st.inBody {
			var done bool
			if out, done, v = h.discardBody(src, st, sh, out); !done {
				return out, v, began
			}
			st.inBody = false
			out = h.reply(out, sh, st.pending)
			if !st.pending.keepAlive {
				return out, httpClose, began
			}
		}
		if src.Buffered() == 0 {
			return out, httpIdle, began
		}
		n, err := h.dec.Decode(src, &sh.req)
		if errors.Is(err, codec.ErrNeedMore) {
			return out, httpPartialHead, began
		}
		if err != nil {
			return httpAppendError(out, sh, codec.StatusForError(err)), httpClose, began
		}
		began = true
		r := httpReplyFor(&sh.req)
		if h.closing.Load() {
			r.keepAlive = false // "Connection: close": the client reconnects, to the new process
		}
		if sh.req.ContentLength != 0 {
			// Answer after the body: the body is read and dropped first,
			// so a bad chunk can still be answered with 400 instead of a
			// second response to one request.
			st.pending, st.inBody = r, true
			st.bodyLeft, st.chunked = sh.req.ContentLength, sh.req.Chunked
			if st.chunked {
				st.bodyLeft = 0
				st.body.Reset(h.dec.Limits().MaxBody)
			}
			if r.cont {
				out = append(out, "HTTP/1.1 100 Continue\r\n\r\n"...)
			}
			src.Discard(n)
			continue
		}
		src.Discard(n)
		out = h.reply(out, sh, r)
		if !r.keepAlive {
			return out, httpClose, began
		}
	}
	return out, httpFull, began
}

// discardBody reads and drops the current request's body. done reports
// that it is all consumed; otherwise v says what the connection waits for
// (more body, or a close after a framing error).
func (h *httpHandler) discardBody(src codec.Source, st *httpConn, sh *httpShard, out []byte) (_ []byte, done bool, v httpVerdict) {
	if !st.chunked {
		k := min(st.bodyLeft, int64(src.Buffered()))
		src.Discard(int(k))
		st.bodyLeft -= k
		return out, st.bodyLeft == 0, httpIdle
	}
	for !st.body.Done() {
		_, n, err := st.body.Decode(src)
		if errors.Is(err, codec.ErrNeedMore) {
			return out, false, httpIdle
		}
		if err != nil {
			return httpAppendError(out, sh, codec.StatusForError(err)), false, httpClose
		}
		src.Discard(n)
	}
	st.chunked = false
	return out, true, httpIdle
}

// httpReplyFor decides the answer to req while its head is buffered.
func httpReplyFor(req *codec.Request) httpReply {
	path := req.Target
	for i, b := range path {
		if b == '?' {
			path = path[:i]
			break
		}
	}
	r := httpReply{keepAlive: req.KeepAlive, minor: req.Minor, cont: req.ExpectContinue}
	switch string(path) {
	case "/plaintext":
		r.route = routePlain
	case "/json":
		r.route = routeJSON
	default:
		r.route = routeNotFound
	}
	switch string(req.Method) {
	case "GET":
	case "HEAD":
		r.head = true
	default:
		if r.route != routeNotFound {
			r.route = routeMethod
		}
	}
	return r
}

// reply appends the response r describes.
func (h *httpHandler) reply(out []byte, sh *httpShard, r httpReply) []byte {
	resp := codec.Response{Status: 200, ContentType: "text/plain", Date: sh.date}
	resp.Close = !r.keepAlive
	resp.KeepAlive = r.keepAlive && r.minor == 0 // HTTP/1.0 clients (ab) must be told
	var body string
	switch r.route {
	case routePlain:
		body = httpPlainBody
	case routeJSON:
		resp.ContentType, body = "application/json", httpJSONBody
	case routeNotFound:
		resp.Status, body = 404, "Not Found\n"
	case routeMethod:
		resp.Status, body = 405, "Method Not Allowed\n"
	}
	resp.ContentLength = int64(len(body))
	out = resp.AppendHead(out)
	if r.route == routeMethod {
		out = codec.AppendHeader(out[:len(out)-2], "Allow", "GET, HEAD")
		out = append(out, "\r\n"...)
	}
	if !r.head {
		out = append(out, body...)
	}
	return out
}

// httpAppendError appends the response to a request that cannot be served
// (400, 431, ...); the connection closes after it, since the stream can no
// longer be framed.
func httpAppendError(out []byte, sh *httpShard, status int) []byte {
	text := codec.StatusText(status)
	resp := codec.Response{Status: status, ContentType: "text/plain", ContentLength: int64(len(text) + 1), Date: sh.date, Close: true}
	out = resp.AppendHead(out)
	out = append(out, text...)
	return append(out, '\n')
}

// httpAddr is the http command's default address.
const httpAddr = "127.0.0.1:8080"

// runHTTP is the http command.
func runHTTP(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	fs := newFlagSet("http", `HTTP/1.1 server: GET /plaintext answers "Hello, World!" (text/plain), GET /json
answers {"message":"Hello, World!"}, any other path 404. Keep-alive and
pipelining; a request head must arrive whole within -idle of its first byte.`, `  shardnet http                                        # 127.0.0.1:8080, GOMAXPROCS shards
  shardnet http -addr :8080 -shards 4 -pin -reuseport  # 4 pinned shards, kernel balancing
  shardnet http -addr 127.0.0.1:8080 -idle 2s          # shed idle and slow clients after 2 s
  curl -i http://127.0.0.1:8080/plaintext              # try it
  wrk -t2 -c64 -d10s http://127.0.0.1:8080/plaintext   # load it
  shardnet http -tls cert.pem,key.pem                  # HTTPS (ALPN http/1.1)
  shardnet http -tls-self-signed                       # HTTPS with a throwaway certificate; prints ca=PATH
  curl --cacert PATH https://localhost:8080/plaintext  # try it
`, stderr)
	sf.register(fs, httpAddr)
	sf.tls.register(fs)
	sf.tls.alpn = []string{"http/1.1"}
	sf.idle = httpDefaultIdle
	fs.Lookup("idle").DefValue = httpDefaultIdle.String()
	fs.Lookup("idle").Usage = "close connections idle this long, and those whose request head is not whole this long after its first byte (0: never)"
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	h := newHTTPHandler(sf.idle)
	sf.beforeDrain = func() { h.closing.Store(true) }
	return serve("http", &sf, h, []engine.Option{engine.WithTick(time.Second)}, stdout, stderr)
}
