package codec_test

import (
	"errors"
	"fmt"

	"github.com/shardnet/shardnet/codec"
)

// A 2-byte big-endian length header, stripped from the decoded frames. Two
// frames arrive in one read, the third is still incomplete.
func ExampleLengthField() {
	lf, err := codec.NewLengthField(codec.LengthFieldConfig{
		MaxFrameLength:      1 << 16,
		LengthFieldLength:   2,
		InitialBytesToStrip: 2,
	})
	if err != nil {
		panic(err)
	}
	var in codec.Bytes
	lf.Encode(&in, nil, []byte("hello"))
	lf.Encode(&in, nil, []byte("world"))
	in.Write([]byte{0, 9, 'p', 'a', 'r'})

	for {
		frame, n, err := lf.Decode(&in)
		if errors.Is(err, codec.ErrNeedMore) {
			fmt.Println("need more, buffered:", in.Buffered())
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("frame %q, %d bytes on the wire\n", frame, n)
		in.Discard(n) // the frame is valid until here
	}
	// Output:
	// frame "hello", 7 bytes on the wire
	// frame "world", 7 bytes on the wire
	// need more, buffered: 5
}

// Lines ending in "\n" or "\r\n", fed in two reads that split a line.
func ExampleNewLine() {
	line := codec.NewLine(1024)
	var in codec.Bytes
	in.Write([]byte("PING\r\nSET k v\r\nGET"))
	for round := 0; round < 2; round++ {
		for {
			frame, n, err := line.Decode(&in)
			if errors.Is(err, codec.ErrNeedMore) {
				break
			}
			if err != nil {
				panic(err)
			}
			fmt.Printf("%q\n", frame)
			in.Discard(n)
		}
		in.Write([]byte(" k\n"))
	}
	// Output:
	// "PING"
	// "SET k v"
	// "GET k"
}

// A request head, then its Content-Length body, from an in-memory buffer;
// the response head is appended to a reusable slice.
func ExampleHTTPDecoder() {
	dec, err := codec.NewHTTPDecoder(codec.HTTPLimits{})
	if err != nil {
		panic(err)
	}
	in := codec.NewBytes([]byte("POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"))
	var req codec.Request
	n, err := dec.Decode(in, &req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s HTTP/1.%d host=%s keep-alive=%v body=%d\n",
		req.Method, req.Target, req.Minor, req.Header("host"), req.KeepAlive, req.ContentLength)
	in.Discard(n)
	body, _ := in.Peek(int(req.ContentLength))

	resp := codec.Response{Status: 200, ContentType: "text/plain", ContentLength: int64(len(body))}
	resp.SetConnection(&req)
	out := resp.AppendHead(nil)
	out = append(out, body...)
	fmt.Printf("%q\n", out)
	// Output:
	// POST /echo HTTP/1.1 host=example.com keep-alive=true body=5
	// "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
}

// Two pipelined commands, one as a RESP array (as redis-cli sends) and
// one inline, answered with the reply appenders.
func ExampleRESPDecoder() {
	dec, err := codec.NewRESPDecoder(codec.RESPLimits{})
	if err != nil {
		panic(err)
	}
	in := codec.NewBytes([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET key\r\n"))
	var cmd codec.Command
	var out []byte
	for {
		n, err := dec.Decode(in, &cmd)
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%q\n", cmd.Args)
		switch {
		case cmd.Name("set"):
			out = codec.AppendSimpleString(out, "OK")
		case cmd.Name("get"):
			out = codec.AppendBulkString(out, "value")
		}
		in.Discard(n)
	}
	fmt.Printf("%q\n", out)
	// Output:
	// ["SET" "key" "value"]
	// ["GET" "key"]
	// "+OK\r\n$5\r\nvalue\r\n"
}
