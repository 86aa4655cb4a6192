package codec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTP is a goroutine-per-connection HTTP server built on the codec,
// standing in for the engine: it answers each request with its method,
// target and body, and closes the connection on a decode error with the
// status StatusForError gives.
func serveHTTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dec, _ := NewHTTPDecoder(HTTPLimits{MaxBody: 1 << 20})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveHTTPConn(c, dec)
		}
	}()
	return ln.Addr().String()
}

func serveHTTPConn(c net.Conn, dec *HTTPDecoder) {
	defer c.Close()
	var in Bytes
	var req Request
	var chunked ChunkedBody
	var out, body []byte
	scratch := make([]byte, 4096)
	// fill reads once more into in, or reports that the peer is gone.
	fill := func() bool {
		n, err := c.Read(scratch)
		in.Write(scratch[:n])
		return err == nil || n > 0
	}
	fail := func(err error) {
		resp := Response{Status: StatusForError(err), ContentLength: 0, Close: true}
		c.Write(resp.AppendHead(nil))
		// Half-close and drain: closing with unread input would reset the
		// connection and could destroy the response before the peer reads it.
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c)
	}
	// retry handles a decoder's error: it reads more after ErrNeedMore and
	// says whether to decode again; any other error is answered, and the
	// connection is done.
	retry := func(err error) bool {
		if errors.Is(err, ErrNeedMore) {
			return fill()
		}
		fail(err)
		return false
	}
	for {
		n, err := dec.Decode(&in, &req)
		if err != nil {
			if retry(err) {
				continue
			}
			return
		}
		head := fmt.Sprintf("%s %s HTTP/1.%d", req.Method, req.Target, req.Minor)
		keepAlive, minor := req.KeepAlive, req.Minor
		in.Discard(n)
		if req.ExpectContinue {
			c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		}
		body = body[:0]
		switch {
		case req.Chunked:
			chunked.Reset(dec.Limits().MaxBody)
			for !chunked.Done() {
				data, n, err := chunked.Decode(&in)
				if err != nil {
					if retry(err) {
						continue
					}
					return
				}
				body = append(body, data...)
				in.Discard(n)
			}
		case req.ContentLength > 0:
			for in.Buffered() < int(req.ContentLength) {
				if !fill() {
					return
				}
			}
			b, _ := in.Peek(int(req.ContentLength))
			body = append(body, b...)
			in.Discard(len(b))
		}
		text := head + " body=" + string(body)
		resp := Response{Status: 200, ContentType: "text/plain", ContentLength: int64(len(text)), Date: AppendDate(nil, time.Now())}
		resp.SetConnection(&Request{KeepAlive: keepAlive, Minor: minor})
		out = append(resp.AppendHead(out[:0]), text...)
		if _, err := c.Write(out); err != nil || !keepAlive {
			return
		}
	}
}

func TestHTTPServerWithNetHTTPClient(t *testing.T) {
	addr := serveHTTP(t)
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	tests := []struct {
		name   string
		method string
		body   io.Reader
		want   string
	}{
		{name: "get", method: "GET", want: "GET /get HTTP/1.1 body="},
		{name: "post with length", method: "POST", body: strings.NewReader("hello"), want: "POST /post%20with%20length HTTP/1.1 body=hello"},
		// A reader of unknown length makes net/http send a chunked body.
		{name: "post chunked", method: "POST", body: io.MultiReader(strings.NewReader("chunked "), strings.NewReader("body")), want: "POST /post%20chunked HTTP/1.1 body=chunked body"},
		{name: "get again on the kept connection", method: "GET", want: "GET /get%20again%20on%20the%20kept%20connection HTTP/1.1 body="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+addr+"/"+tc.name, tc.body)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(got) != tc.want || resp.Header.Get("Date") == "" {
				t.Fatalf("%d %q, want 200 %q", resp.StatusCode, got, tc.want)
			}
		})
	}
}

func TestHTTPServerRawClients(t *testing.T) {
	addr := serveHTTP(t)
	tests := []struct {
		name   string
		send   string
		status []int
		bodies []string
		closed bool // the server closes after the last response
	}{
		{name: "pipelined", send: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			status: []int{200, 200, 200}, bodies: []string{"GET /a HTTP/1.1 body=", "POST /b HTTP/1.1 body=hi", "GET /c HTTP/1.1 body="}, closed: true},
		{name: "ab http/1.0 closes", send: "GET / HTTP/1.0\r\nHost: h\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
			status: []int{200}, bodies: []string{"GET / HTTP/1.0 body="}, closed: true},
		{name: "ab -k http/1.0 keeps", send: "GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\nGET /2 HTTP/1.0\r\nHost: h\r\n\r\n",
			status: []int{200, 200}, bodies: []string{"GET /1 HTTP/1.0 body=", "GET /2 HTTP/1.0 body="}, closed: true},
		{name: "smuggling attempt", send: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			status: []int{400}, bodies: []string{""}, closed: true},
		{name: "huge header", send: "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n",
			status: []int{431}, bodies: []string{""}, closed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			go c.Write([]byte(tc.send)) // the server may answer before reading it all
			r := bufio.NewReader(c)
			for i, want := range tc.status {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want || string(got) != tc.bodies[i] {
					t.Fatalf("response %d: %d %q, want %d %q", i, resp.StatusCode, got, want, tc.bodies[i])
				}
				if i == 0 && strings.HasPrefix(tc.name, "ab -k") && resp.Header.Get("Connection") != "keep-alive" {
					t.Fatalf("HTTP/1.0 keep-alive response lacks Connection: keep-alive")
				}
			}
			if tc.closed {
				if n, err := r.Read(make([]byte, 1)); n != 0 || err == nil {
					t.Fatalf("connection still open: %d, %v", n, err)
				}
			}
		})
	}
}
