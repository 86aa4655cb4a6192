package relay

import (
	"fmt"

	"github.com/shardnet/shardnet/codec/proxyproto"
	"github.com/shardnet/shardnet/engine"
)

// WithSendProxy makes the Proxy start every backend connection with a
// PROXY protocol header (HAProxy's; version 1, the text line, or 2, the
// binary block) carrying the client's address and port and the address
// it connected to, so a backend that reads it (HAProxy's accept-proxy,
// nginx's proxy_protocol) sees the client instead of the proxy. The header
// is queued before any of the client's bytes, those a Router read
// included; a client whose addresses are neither TCP nor unix gets
// version 1's UNKNOWN or version 2's AF_UNSPEC. L7 health checks (with
// Send or Expect) start with one too, since such a backend refuses a
// connection without it: version 2's LOCAL, or for version 1 a line with
// the check connection's own addresses, as the spec advises. Default 0:
// no header.
func WithSendProxy(version int) Option { return func(c *config) { c.sendProxy = version } }

// headerBuf holds the longest header the relay writes: version 2 with
// two unix paths (16 + 216 bytes).
type headerBuf [232]byte

// writeProxyHeader queues on up the header for client, before anything
// else goes to up. Loop only.
func writeProxyHeader(up, client *engine.Conn, version int) error {
	h := proxyproto.FromAddrs(version, client.RemoteAddr(), client.LocalAddr())
	return writeHeader(up, &h)
}

// writeCheckHeader queues on a health check's connection c the header a
// check sends: LOCAL (version 2), or its own addresses (version 1). Loop
// only.
func writeCheckHeader(c *engine.Conn, version int) error {
	h := proxyproto.FromAddrs(version, c.LocalAddr(), c.RemoteAddr())
	if version == 2 {
		h = proxyproto.Header{Version: 2, Command: proxyproto.Local}
	}
	return writeHeader(c, &h)
}

func writeHeader(c *engine.Conn, h *proxyproto.Header) error {
	var buf headerBuf
	b, err := h.Append(buf[:0])
	if err != nil {
		return fmt.Errorf("relay: PROXY header: %w", err)
	}
	_, err = c.Write(b) // Write copies or sends b before it returns
	return err
}
