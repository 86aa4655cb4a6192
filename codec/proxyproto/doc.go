// Package proxyproto reads and writes the PROXY protocol header (HAProxy's
// version 1 text line and version 2 binary block) that a layer-4 balancer
// or proxy puts before a relayed connection's bytes, so that the server
// learns the client's address and port instead of the proxy's.
//
// Parse reads a header from a prefix of the connection's bytes that may be
// incomplete, which fits a shard reading as bytes arrive: it returns the
// header and its wire length n, or codec.ErrNeedMore to wait for more, or
// an error. It consumes nothing; Decode does the same over a codec.Source
// such as the engine's Conn:
//
//	h, n, err := proxyproto.Decode(conn)
//	switch {
//	case errors.Is(err, codec.ErrNeedMore):
//		return // wait for the next read (under a read deadline)
//	case err != nil:
//		conn.Abort() // err wraps ErrNoHeader, ErrMalformed, ...
//		return
//	}
//	conn.Discard(n)
//	if h.Relayed() {
//		src, dst := h.Addrs() // the client and the address it reached
//	}
//
// Both versions, TCP over IPv4 and IPv6, UDP and unix sockets (version 2),
// version 2's LOCAL command and version 1's UNKNOWN (a balancer's health
// check: Relayed is false and the socket's own addresses stand) are read.
// Version 2 TLVs are checked to tile the header and skipped (AWS NLB's
// 0xEA, HAProxy's TLS details), except CRC32C, which is verified.
//
// Limits: a version 1 line must end within 107 bytes (the spec's longest);
// a version 2 length field over the parser's limit (DefaultMaxLength,
// WithMaxLength) is refused as soon as it is read. A prefix that cannot
// become a header fails at once (ErrNoHeader for a client that speaks
// something else), so a stray "GET /" is not kept waiting.
//
// Header.Append writes a header; FromAddrs builds the one a proxy sends
// for a client from the client connection's RemoteAddr and LocalAddr.
//
// Threading: nothing in the package holds state between calls, and a
// Parser is read-only after NewParser: any goroutine may use it.
package proxyproto
