package interop

import (
	"context"
	"errors"
	"net/rpc"
	"testing"
	"time"
)

// Arith is a net/rpc service.
type Arith struct{}

// Args are Arith's arguments.
type Args struct{ A, B int }

// Mul sets reply to a*b.
func (Arith) Mul(args Args, reply *int) error {
	*reply = args.A * args.B
	return nil
}

// Div sets reply to a/b, or fails for b == 0.
func (Arith) Div(args Args, reply *int) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	*reply = args.A / args.B
	return nil
}

func TestNetRPC(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	srv := rpc.NewServer()
	if err := srv.Register(Arith{}); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		srv.Accept(s.ln) // returns when the Listener is closed
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := s.d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	client := rpc.NewClient(nc)
	for i := range 100 {
		var got int
		if err := client.Call("Arith.Mul", Args{i, 7}, &got); err != nil || got != i*7 {
			t.Fatalf("Mul(%d, 7) = %d, %v", i, got, err)
		}
	}
	// Concurrent calls share the connection.
	calls := make([]*rpc.Call, 50)
	for i := range calls {
		calls[i] = client.Go("Arith.Mul", Args{i, i}, new(int), nil)
	}
	for i, c := range calls {
		<-c.Done
		if c.Error != nil || *c.Reply.(*int) != i*i {
			t.Fatalf("call %d: %v, %v", i, *c.Reply.(*int), c.Error)
		}
	}
	var q int
	if err := client.Call("Arith.Div", Args{1, 0}, &q); err == nil || err.Error() != "divide by zero" {
		t.Fatalf("Div by zero = %v", err)
	}
	client.Close()
	s.ln.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("rpc Accept did not return after the Listener closed")
	}
}
