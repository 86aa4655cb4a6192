// Package codec frames byte streams for shardnet servers and clients:
// length-prefixed frames (LengthField), delimited frames and lines
// (Delimiter, NewLine), fixed-size frames (Fixed), HTTP/1.x request heads
// with chunked bodies (HTTPDecoder, ChunkedBody, Response) and RESP2 commands
// and replies (RESPDecoder, the Append* functions).
//
// Decoders read through Source, a three-method view of a receive buffer
// (Buffered, Peek, Discard) that the engine's Conn and buffer.Ring satisfy and
// that Bytes provides in memory. A decoder never consumes input itself: it
// returns one complete frame and the frame's wire length n, or ErrNeedMore,
// or an error. The frame aliases the source without a copy and stays valid
// until the caller calls Discard(n):
//
//	for {
//		frame, n, err := dec.Decode(conn)
//		if errors.Is(err, codec.ErrNeedMore) {
//			break // wait for the next read
//		}
//		if err != nil {
//			conn.Close() // err says what was wrong and at which offset
//			break
//		}
//		handle(frame)
//		conn.Discard(n)
//	}
//
// Encoders append to a []byte, or write to a Sink: a header and a payload go
// out in one Writev (a VectorSink) or two Writes, never joined by a copy.
//
// Threading: the framing decoders' Decode methods keep no state, except
// Delimiter, which remembers how far it scanned; Delimiter, ChunkedBody and
// the encoders' scratch space belong to one connection, so use them from that
// connection's shard only. Nothing in the package is global or mutable.
//
// Hostile input: every decoder has limits (frame length, line length, header
// bytes and count, body size, argument count, bulk length), checks a declared
// size before waiting for the bytes it announces, and returns an error
// wrapping ErrFrameTooLarge, ErrHeaderTooLarge or ErrMalformed. No input
// makes a decoder panic, loop or allocate beyond its limits.
package codec
