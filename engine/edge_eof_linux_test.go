package engine

import (
	"io"
	"net"
	"testing"
	"time"
)

// slowOpenEcho echoes, and sleeps in OnOpen so that the client's bytes and
// its FIN are both in the socket before the loop's first epoll_wait for the
// connection: one edge reports both.
type slowOpenEcho struct{ echoHandler }

func (slowOpenEcho) OnOpen(*Conn) error {
	time.Sleep(150 * time.Millisecond)
	return nil
}

// TestEdgeShortReadThenFIN: a peer that sends a few bytes and
// half-closes at once must get its echo and then the server's EOF, in both
// triggering modes.
func TestEdgeShortReadThenFIN(t *testing.T) {
	for _, tc := range []struct {
		name string
		edge bool
	}{{"level", false}, {"edge", true}} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startEngine(t, slowOpenEcho{}, WithShards(1), WithEdgeTriggered(tc.edge))
			nc := dialT(t, "tcp", addr)
			if _, err := nc.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(2 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil {
				t.Fatalf("read echo then EOF: got %q, err %v (the server never saw the peer's FIN)", got, err)
			}
			if string(got) != "hello" {
				t.Fatalf("got %q, want %q", got, "hello")
			}
		})
	}
}
