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
