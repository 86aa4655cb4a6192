package rpc

import (
	"context"
	"encoding/binary"
)

// Codec turns values of T into payload bytes and back: the pluggable part
// of the protocol, which itself carries bytes only.
type Codec[T any] interface {
	// Append appends v's encoding to dst.
	Append(dst []byte, v *T) ([]byte, error)
	// Decode fills v from b.
	Decode(b []byte, v *T) error
}

// BinaryCodec encodes fixed-size values (structs of fixed-size fields) in
// encoding/binary's big-endian layout.
type BinaryCodec[T any] struct{}

// Append appends v's encoding to dst.
func (BinaryCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	return binary.Append(dst, binary.BigEndian, v)
}

// Decode fills v from b.
func (BinaryCodec[T]) Decode(b []byte, v *T) error {
	_, err := binary.Decode(b, binary.BigEndian, v)
	return err
}

// Typed adapts fn, a handler of typed values, to a HandlerFunc that
// decodes the request with rc and encodes the answer with wc.
func Typed[Req, Resp any](rc Codec[Req], wc Codec[Resp], fn func(req *Req, resp *Resp) error) HandlerFunc {
	return func(b, dst []byte) ([]byte, error) {
		var req Req
		var resp Resp
		if err := rc.Decode(b, &req); err != nil {
			return dst, err
		}
		if err := fn(&req, &resp); err != nil {
			return dst, err
		}
		return wc.Append(dst, &resp)
	}
}

// CallTyped makes a call with a typed request and answer, encoded with rc
// and decoded with wc.
func CallTyped[Req, Resp any](ctx context.Context, cl *Client, method uint16, rc Codec[Req], wc Codec[Resp], req *Req, resp *Resp) error {
	b, err := rc.Append(nil, req)
	if err != nil {
		return err
	}
	out, err := cl.Call(ctx, method, b, nil)
	if err != nil {
		return err
	}
	return wc.Decode(out, resp)
}
