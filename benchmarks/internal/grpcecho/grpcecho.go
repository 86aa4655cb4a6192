// Package grpcecho is the gRPC service of the gRPC suite, shared by its
// server (cmd/peer-grpc) and its load client (cmd/grpcload): one unary
// method that answers with the bytes it was sent. Messages are raw bytes
// under a codec of their own, so that neither side needs generated
// protobuf code and the figures are the transport's, not a marshaller's.
package grpcecho

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
)

// Method is the full name of the unary echo method, as Invoke takes it.
const Method = "/shardnet.bench.Echo/Echo"

// Msg is a message of the service: its bytes as they are.
type Msg struct{ B []byte }

// Codec is the grpc encoding.Codec of Msg: the payload is the message.
// It registers nothing; both sides force it (grpc.ForceServerCodec,
// grpc.ForceCodec).
type Codec struct{}

// Marshal returns the bytes of a *Msg.
func (Codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*Msg)
	if !ok {
		return nil, fmt.Errorf("grpcecho: cannot marshal %T", v)
	}
	return m.B, nil
}

// Unmarshal keeps a copy of data in a *Msg (grpc may reuse data's memory
// once it returns).
func (Codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*Msg)
	if !ok {
		return fmt.Errorf("grpcecho: cannot unmarshal into %T", v)
	}
	m.B = append(m.B[:0], data...)
	return nil
}

// Name is the codec's name in the content-type (application/grpc+raw).
func (Codec) Name() string { return "raw" }

// echoServer is the service's handler type; the service has no state.
type echoServer interface{}

type echo struct{}

// Register adds the echo service to s.
func Register(s *grpc.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "shardnet.bench.Echo",
		HandlerType: (*echoServer)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(Msg)
				if err := dec(in); err != nil {
					return nil, err
				}
				return in, nil
			},
		}},
	}, echo{})
}
