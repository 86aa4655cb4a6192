// Command peer-rpc-netpoll serves tools/rpc's protocol the way a
// Kitex-style server does: a netpoll.Reader/Writer codec that reads one
// frame with blocking Peek/Next, on a goroutine per busy connection, and
// answers in order. It runs on shardnet's engine through engine/netpollconn
// (-transport netpollconn) or on cloudwego/netpoll itself (-transport
// netpoll), with the same codec, so "shardnet rpc-bench" drives both, and
// cmd/peer-rpc-compare sets them beside tools/rpc's callback server.
//
//	peer-rpc-netpoll -addr 127.0.0.1:7302 -transport netpollconn
//
// Only method 1 (echo) is served; others get StatusUnknownMethod.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/netpollconn"
	"github.com/shardnet/shardnet/tools/rpc"
)

var errBadFrame = errors.New("peer-rpc-netpoll: bad frame")

// serveFrames answers every complete frame r holds (at least one; Peek
// blocks for the first), then flushes the answers in one write.
func serveFrames(r netpoll.Reader, w netpoll.Writer) error {
	for {
		hdr, err := r.Peek(4)
		if err != nil {
			return err
		}
		n := 4 + int(binary.BigEndian.Uint32(hdr))
		if n < rpc.HeaderSize || n > rpc.DefaultMaxFrame {
			return fmt.Errorf("%w: length %d", errBadFrame, n)
		}
		frame, err := r.Next(n)
		if err != nil {
			return err
		}
		h, err := rpc.DecodeHeader(frame)
		if err != nil {
			return err
		}
		if h.Flags&rpc.FlagResponse != 0 {
			return fmt.Errorf("%w: a response sent to the server", errBadFrame)
		}
		payload := frame[rpc.HeaderSize:]
		st := rpc.StatusOK
		if h.Method != 1 {
			st, payload = rpc.StatusUnknownMethod, []byte("no handler for this method")
		}
		out, err := w.Malloc(rpc.HeaderSize + len(payload))
		if err != nil {
			return err
		}
		rpc.AppendHeader(out[:0], rpc.Header{ID: h.ID, Method: h.Method, Flags: rpc.FlagResponse, Status: st}, len(payload))
		copy(out[rpc.HeaderSize:], payload)
		if r.Len() < 4 {
			break
		}
	}
	if err := r.Release(); err != nil {
		return err
	}
	return w.Flush()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7302", "address to serve")
	transport := flag.String("transport", "netpollconn", "netpollconn (shardnet engine, 1 shard) or netpoll (cloudwego/netpoll, 1 loop)")
	flag.Parse()
	stop, bound, err := serve(*addr, *transport)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer-rpc-netpoll:", err)
		os.Exit(1)
	}
	fmt.Printf("peer-rpc-netpoll listening on tcp://%s transport=%s\n", bound, *transport)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop()
}

func serve(addr, transport string) (stop func(), bound string, err error) {
	switch transport {
	case "netpollconn":
		h := netpollconn.NewHandler(func(_ context.Context, c *netpollconn.Conn) error {
			return serveFrames(c.Reader(), c.Writer())
		})
		e, err := engine.Serve(h, []string{addr}, engine.WithShards(1))
		if err != nil {
			return nil, "", err
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			e.Stop(ctx)
		}, e.Addrs()[0].String(), nil
	case "netpoll":
		if err := netpoll.Configure(netpoll.Config{PollerNum: 1}); err != nil {
			return nil, "", err
		}
		ln, err := netpoll.CreateListener("tcp", addr)
		if err != nil {
			return nil, "", err
		}
		loop, err := netpoll.NewEventLoop(func(_ context.Context, c netpoll.Connection) error {
			return serveFrames(c.Reader(), c.Writer())
		})
		if err != nil {
			return nil, "", err
		}
		go loop.Serve(ln)
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			loop.Shutdown(ctx)
		}, ln.Addr().(*net.TCPAddr).String(), nil
	}
	return nil, "", fmt.Errorf("-transport %q: want netpollconn or netpoll", transport)
}
