// Package stdlisten makes the net.Listener that the standard-library peers
// (cmd/peer-nethttp, cmd/peer-grpc) serve on: Go's own (net.Listen) or
// shardnet's adapter (engine/netconn over an engine with -loops shards),
// so that the one server code runs over either and the comparison measures
// the transport underneath. It is its own package so that the engine is
// not linked into the other peers' binaries.
package stdlisten

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/netconn"
	"github.com/shardnet/shardnet/internal/waitenv"
)

// Over is the -over flag's value: "net" or "shardnet".
type Over string

// Transports, as -over names them.
const (
	Net      Over = "net"
	Shardnet Over = "shardnet"
)

// Flag defines -over on the default flag set and returns it.
func Flag() *string {
	return flag.String("over", string(Net), "the listener under the server: net (Go's net.Listen) or shardnet (engine/netconn on -loops shards)")
}

// Listen listens on addr (host:port) over the named transport; loops is
// the engine's shard count (net has none). Over shardnet, SHARDNET_WAIT
// (internal/waitenv) picks the shards' idle wait.
//
// The adapter's queue of connections not yet Accepted is set to the
// kernel's listen backlog, which is what net.Listen asks for: with
// netconn's default (128) a burst of more connects than that (wrk's 256
// at once) has the excess refused, where the kernel would hold them.
func Listen(over, addr string, loops int) (net.Listener, error) {
	switch Over(over) {
	case Net:
		return net.Listen("tcp", addr)
	case Shardnet:
		// SHARDNET_WAIT picks the shards' idle wait, as for peer-shardnet,
		// so the driver can measure one binary with both waits.
		wait, err := waitenv.Options(os.Getenv)
		if err != nil {
			return nil, err
		}
		ln, e, err := netconn.Listen("tcp://"+addr, []netconn.Option{netconn.WithBacklog(somaxconn())}, append([]engine.Option{engine.WithShards(loops)}, wait...)...)
		if err != nil {
			return nil, err
		}
		return engineListener{ln, e}, nil
	}
	return nil, fmt.Errorf("-over %q: want %s or %s", over, Net, Shardnet)
}

// engineListener is the adapter's Listener with its engine: closing it
// stops the engine too, so a server that closes its listener leaves no
// shard behind.
type engineListener struct {
	*netconn.Listener
	e *engine.Engine
}

// Close closes the Listener, then stops the engine, closing every
// connection (within five seconds).
func (l engineListener) Close() error {
	err := l.Listener.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, l.e.Stop(ctx))
}

// somaxconn is the kernel's cap on a listen backlog, which net.Listen
// requests; 4096 (the kernel's default since 5.4) if it cannot be read.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 1 {
		return 4096
	}
	return n
}
