package proxyproto_test

import (
	"errors"
	"fmt"
	"net"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/codec/proxyproto"
)

// A receiver parses the header from what has arrived so far, waits while
// it is incomplete, and then consumes exactly the header.
func ExampleDecode() {
	in := codec.NewBytes(nil)
	for _, chunk := range []string{"PROXY TCP4 192.168.0.1 192.1", "68.0.11 56324 443\r\nGET / HTTP/1.1\r\n"} {
		in.Write([]byte(chunk))
		h, n, err := proxyproto.Decode(in)
		if errors.Is(err, codec.ErrNeedMore) {
			fmt.Println("need more")
			continue
		}
		if err != nil {
			fmt.Println("close:", err)
			return
		}
		in.Discard(n)
		src, dst := h.Addrs()
		fmt.Println("client", src, "reached", dst)
		fmt.Printf("then %q\n", in.Bytes())
	}
	// Output:
	// need more
	// client 192.168.0.1:56324 reached 192.168.0.11:443
	// then "GET / HTTP/1.1\r\n"
}

// A proxy writes the header for its client before relaying its bytes.
func ExampleFromAddrs() {
	client := &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}
	listener := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 443}
	for _, v := range []int{1, 2} {
		h := proxyproto.FromAddrs(v, client, listener)
		b, err := h.Append(nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		if v == 1 {
			fmt.Printf("v1: %q\n", b)
		} else {
			fmt.Printf("v2: % x\n", b)
		}
	}
	// Output:
	// v1: "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n"
	// v2: 0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c cb 00 71 07 c6 33 64 01 9c 40 01 bb
}

// A client that does not speak the protocol is refused on its first bytes.
func ExampleParse() {
	_, _, err := proxyproto.Parse([]byte("GET / HTTP/1.1\r\n"))
	fmt.Println(errors.Is(err, proxyproto.ErrNoHeader), err)
	// Output:
	// true proxyproto: no PROXY protocol header: starts with "GET / HTTP/1.1\r\n"
}
