package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// shout answers every datagram with the datagram in upper case. p is only
// valid during the call; WriteTo copies it into the socket's queue, which
// the shard sends in one batch when the datagrams of this round are done.
type shout struct{}

func (shout) OnDatagram(pc *engine.PacketConn, p []byte, from netip.AddrPort) {
	_ = pc.WriteTo(bytes.ToUpper(p), from)
}

// Serve UDP on every shard (one SO_REUSEPORT socket each) and talk to it
// with the standard library.
func ExampleEngine_ListenPacket() {
	e, err := engine.New(engine.BaseHandler{}, engine.WithShards(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(context.Background())
	l, err := e.ListenPacket("udp://127.0.0.1:0", shout{})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello, datagrams"))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	fmt.Printf("%s (%d sockets)\n", buf[:n], len(l.Conns()))
	// Output: HELLO, DATAGRAMS (2 sockets)
}

// echoCounter counts the replies a connected socket gets.
type echoCounter struct{ got chan []byte }

func (h echoCounter) OnDatagram(_ *engine.PacketConn, p []byte, _ netip.AddrPort) {
	h.got <- bytes.Clone(p) // p is reused after the call
}

// A client socket connected to one peer, on a shard, written to from
// another goroutine with AsyncWriteTo.
func ExampleEngine_DialPacket() {
	e, err := engine.New(engine.BaseHandler{}, engine.WithShards(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(context.Background())
	l, err := e.ListenPacket("udp://127.0.0.1:0", shout{})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := echoCounter{got: make(chan []byte, 1)}
	pc, err := e.DialPacket(l.Addr().String(), h)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pc.AsyncWriteTo([]byte("ping"), netip.AddrPort{}, nil); err != nil {
		fmt.Println(err)
		return
	}
	select {
	case p := <-h.got:
		fmt.Printf("%s\n", p)
	case <-time.After(5 * time.Second):
		fmt.Println("no reply")
	}
	// Output: PING
}

// Per-peer sessions: made on a peer's first datagram, ended after a
// quiet interval; at the cap new peers are refused and counted.
func ExampleWithSessions() {
	e, err := engine.New(engine.BaseHandler{}, engine.WithShards(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(context.Background())
	h := packetFunc(func(pc *engine.PacketConn, p []byte, _ netip.AddrPort) {
		s := pc.Session()
		n, _ := s.Context().(int)
		s.SetContext(n + 1)
		_ = s.Write(fmt.Appendf(nil, "datagram %d from this peer", n+1))
	})
	l, err := e.ListenPacket("udp://127.0.0.1:0", h, engine.WithSessions(time.Minute, 1000))
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for range 2 {
		c.Write([]byte("hi"))
		n, _ := c.Read(buf)
		fmt.Printf("%s\n", buf[:n])
	}
	// Output:
	// datagram 1 from this peer
	// datagram 2 from this peer
}

type packetFunc func(pc *engine.PacketConn, p []byte, from netip.AddrPort)

func (f packetFunc) OnDatagram(pc *engine.PacketConn, p []byte, from netip.AddrPort) { f(pc, p, from) }
