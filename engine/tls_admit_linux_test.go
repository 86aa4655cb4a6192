package engine

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// TestHandshakeStartsPaced: ClientHellos that a shard reads all at once
// (it was held while 100 connected clients sent them) start their
// handshakes at most startsPerWindow per window, the rest queued, and
// every handshake still completes and the connection works. The clients
// connect first and the shard holds all of them before any sends its
// ClientHello: with one shard the shard accepts too, and the accept pace
// would otherwise spread the connections, and their ClientHellos, over
// several windows (the test then failed now and then: "no ClientHello was
// queued").
func TestHandshakeStartsPaced(t *testing.T) {
	noLeaks(t)
	const clients = 100
	pki := newTestPKI(t)
	e, addr, _ := startTLS(t, echoHandler{}, pki.server(), WithShards(1))
	raws := make([]net.Conn, 0, clients)
	for range clients {
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		raws = append(raws, nc)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().Shards[0].Conns < clients {
		if time.Now().After(deadline) {
			t.Fatalf("the engine holds %d of %d connections after 10 s", e.Stats().Shards[0].Conns, clients)
		}
		time.Sleep(5 * time.Millisecond)
	}
	free := blockShard(t, e.shards[0])
	errs := make(chan error, clients)
	for _, nc := range raws {
		go func() {
			tc := tls.Client(nc, pki.client(tls.VersionTLS13))
			defer tc.Close()
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := tc.Write([]byte("ping")); err != nil {
				errs <- err
				return
			}
			b := make([]byte, 4)
			_, err := io.ReadFull(tc, b)
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // the ClientHellos wait in the sockets
	free()
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	type seen struct{ most, queued int }
	got := make(chan seen, 1)
	if err := e.shards[0].loop.Submit(func() {
		st := &e.shards[0].hsStarts
		got <- seen{most: st.most, queued: st.queuedAll}
	}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.most > startsPerWindow {
		t.Errorf("a window started %d handshakes, want at most %d", s.most, startsPerWindow)
	}
	if s.queued == 0 {
		t.Errorf("no ClientHello was queued: the %d did not arrive as one burst, the test tests nothing", clients)
	}
	t.Logf("most starts in a window %d, queued %d of %d", s.most, s.queued, clients)
}
