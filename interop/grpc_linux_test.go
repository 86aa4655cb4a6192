package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// msg is the one message type of the test service, sent as JSON so that
// the test needs no generated protobuf code.
type msg struct {
	Text  string
	Delay time.Duration // the server waits this long (or until the call ends)
	Block bool          // the server waits for release
}

// jsonCodec is a grpc encoding.Codec for msg.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func (jsonCodec) Name() string                    { return "json" }

// echoService is the test service: a unary Echo and a bidirectional
// stream that answers each message.
type echoService interface{}

type echoImpl struct {
	release chan struct{} // closing it ends the waits of Block calls
	started chan struct{} // one value per Block call that started
	ended   chan error    // the server side's view of how calls ended
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "shardnet.test.Echo",
	HandlerType: (*echoService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in msg
			if err := dec(&in); err != nil {
				return nil, err
			}
			return srv.(*echoImpl).echo(ctx, &in)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			for {
				var in msg
				if err := stream.RecvMsg(&in); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				if err := stream.SendMsg(&msg{Text: "re: " + in.Text}); err != nil {
					return err
				}
			}
		},
	}},
}

func (s *echoImpl) echo(ctx context.Context, in *msg) (*msg, error) {
	switch {
	case in.Block:
		s.started <- struct{}{}
		<-s.release
	case in.Delay > 0:
		select {
		case <-time.After(in.Delay):
		case <-ctx.Done():
			s.ended <- ctx.Err()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &msg{Text: "echo: " + in.Text}, nil
}

// grpcPair serves the test service over s's Listener and returns a client
// that dials through s's Dialer. Cleanup closes the client and stops the
// server.
func grpcPair(t *testing.T, s *server) (*grpc.Server, *grpc.ClientConn, *echoImpl) {
	t.Helper()
	impl := &echoImpl{release: make(chan struct{}), started: make(chan struct{}, 16), ended: make(chan error, 16)}
	gs := grpc.NewServer(grpc.ForceServerCodec(jsonCodec{}))
	gs.RegisterService(&echoDesc, impl)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(s.ln) }()
	cc, err := grpc.NewClient("passthrough:///"+s.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return s.d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(jsonCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		gs.Stop()
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	return gs, cc, impl
}

func TestGRPCUnaryAndStream(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	_, cc, _ := grpcPair(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				var out msg
				text := fmt.Sprintf("%d/%d", g, i)
				if err := cc.Invoke(ctx, "/shardnet.test.Echo/Echo", &msg{Text: text}, &out); err != nil {
					errs <- err
					return
				}
				if out.Text != "echo: "+text {
					errs <- fmt.Errorf("unary answer %q for %q", out.Text, text)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	st, err := cc.NewStream(ctx, &echoDesc.Streams[0], "/shardnet.test.Echo/Chat")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		text := fmt.Sprintf("line %d", i)
		if err := st.SendMsg(&msg{Text: text}); err != nil {
			t.Fatalf("SendMsg: %v", err)
		}
		var out msg
		if err := st.RecvMsg(&out); err != nil || out.Text != "re: "+text {
			t.Fatalf("RecvMsg = %q, %v", out.Text, err)
		}
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := st.RecvMsg(new(msg)); err != io.EOF {
		t.Fatalf("stream end = %v, want io.EOF", err)
	}
}

func TestGRPCDeadlineAndCancel(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	_, cc, impl := grpcPair(t, s)
	// A deadline shorter than the call: the client gets DeadlineExceeded
	// and the server's context ends too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := cc.Invoke(ctx, "/shardnet.test.Echo/Echo", &msg{Text: "slow", Delay: 10 * time.Second}, new(msg))
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("slow call = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-impl.ended:
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Fatalf("server saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server's context did not end with the client's deadline")
	}
	// Cancellation.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	err = cc.Invoke(ctx, "/shardnet.test.Echo/Echo", &msg{Text: "slow", Delay: 10 * time.Second}, new(msg))
	if status.Code(err) != codes.Canceled {
		t.Fatalf("canceled call = %v, want Canceled", err)
	}
	select {
	case <-impl.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the server's context did not end with the client's cancel")
	}
	// The connection is still good.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out msg
	if err := cc.Invoke(ctx, "/shardnet.test.Echo/Echo", &msg{Text: "after"}, &out); err != nil || out.Text != "echo: after" {
		t.Fatalf("call after cancel = %q, %v", out.Text, err)
	}
}

func TestGRPCGracefulStopDrains(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	gs, cc, impl := grpcPair(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := make(chan error, 3)
	for i := range 3 {
		go func() {
			var out msg
			err := cc.Invoke(ctx, "/shardnet.test.Echo/Echo", &msg{Text: fmt.Sprint(i), Block: true}, &out)
			if err == nil && out.Text != "echo: "+fmt.Sprint(i) {
				err = fmt.Errorf("answer %q", out.Text)
			}
			results <- err
		}()
	}
	for range 3 {
		<-impl.started
	}
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("GracefulStop returned with 3 calls in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(impl.release)
	for range 3 {
		if err := <-results; err != nil {
			t.Fatalf("in-flight call: %v", err)
		}
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop did not return once the calls were done")
	}
}
