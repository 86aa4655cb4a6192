package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

type echoH struct{ BaseHandler }

func (echoH) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}

func TestSmokeEcho(t *testing.T) {
	e, err := New(echoH{}, WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		nc, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("x"), 1000000+i*77777)
		go nc.Write(msg)
		got := make([]byte, len(msg))
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(nc, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("mismatch")
		}
		nc.(*net.TCPConn).CloseWrite()
		if n, err := nc.Read(got); err != io.EOF {
			t.Fatal("want EOF", n, err)
		}
		nc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
