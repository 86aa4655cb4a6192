package relay

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// TestRouterErrors: what a client sees when the Router cannot route it.
func TestRouterErrors(t *testing.T) {
	checkFds(t)
	be := startBackend(t, echo)
	pool := mustPool(t, []string{be.addr})
	stray := mustPool(t, []string{be.addr})
	errBad := errors.New("bad route")
	var done = make(chan Done, 16)
	route := func(c *engine.Conn, head []byte, eof bool) (*Pool, error) {
		switch {
		case bytes.HasPrefix(head, []byte("ok ")):
			return nil, nil // the first pool
		case bytes.HasPrefix(head, []byte("stray ")):
			return stray, nil
		case bytes.HasPrefix(head, []byte("bad ")):
			return nil, errBad
		}
		return nil, ErrNeedMore
	}
	p := startProxy(t, WithPool(pool), WithRouter(route), WithSniff(64, 300*time.Millisecond),
		WithOnDone(func(d Done) { done <- d }))
	tests := []struct {
		name    string
		send    string
		eof     bool
		echoed  bool
		wantErr error
	}{
		{name: "routed", send: "ok hello", eof: true, echoed: true},
		{name: "routed at EOF", send: "ok", eof: true, echoed: false, wantErr: ErrSniffLimit},
		{name: "router error", send: "bad x", wantErr: errBad},
		{name: "unknown pool", send: "stray x", wantErr: ErrUnknownPool},
		{name: "head too long", send: string(bytes.Repeat([]byte("?"), 100)), wantErr: ErrSniffLimit},
		{name: "too slow", send: "?", wantErr: engine.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.addr)
			c.Write([]byte(tc.send))
			if tc.eof {
				c.CloseWrite()
			}
			got, _ := io.ReadAll(c)
			if tc.echoed != (string(got) == tc.send) {
				t.Fatalf("got %q back", got)
			}
			d := <-done
			if tc.wantErr != nil && !errors.Is(d.Err, tc.wantErr) {
				t.Fatalf("pair ended with %v, want %v", d.Err, tc.wantErr)
			}
			if tc.echoed && (d.BytesUp != uint64(len(tc.send)) || d.BytesDown != uint64(len(tc.send)) || d.Backend != be.addr) {
				t.Fatalf("done %+v", d)
			}
		})
	}
}

// TestOptionsValidate: each bad option is refused with an error naming it.
func TestOptionsValidate(t *testing.T) {
	pool, err := NewPool([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	proxyCases := []struct {
		name string
		opts []Option
		want string
	}{
		{"no pool", nil, "WithPool"},
		{"nil pool", []Option{WithPool(nil)}, "WithPool"},
		{"sniff limit", []Option{WithPool(pool), WithSniff(0, time.Second)}, "WithSniff"},
		{"sniff timeout", []Option{WithPool(pool), WithSniff(10, 0)}, "WithSniff"},
		{"watermarks", []Option{WithPool(pool), WithWatermarks(10, 5)}, "WithWatermarks"},
		{"tick", []Option{WithPool(pool), WithTick(0)}, "WithTick"},
		{"logger", []Option{WithPool(pool), WithLogger(nil)}, "WithLogger"},
	}
	for _, tc := range proxyCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			if !errors.Is(err, ErrInvalidOption) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("New: %v, want ErrInvalidOption naming %s", err, tc.want)
			}
		})
	}
	poolCases := []struct {
		name  string
		addrs []string
		opts  []PoolOption
		want  string
	}{
		{"no address", nil, nil, "NewPool"},
		{"bad address", []string{"localhost"}, nil, "localhost"},
		{"policy", []string{"a:1"}, []PoolOption{WithPolicy("fastest")}, "WithPolicy"},
		{"connect timeout", []string{"a:1"}, []PoolOption{WithConnectTimeout(0)}, "WithConnectTimeout"},
		{"retries", []string{"a:1"}, []PoolOption{WithRetries(-2)}, "WithRetries"},
		{"ejection", []string{"a:1"}, []PoolOption{WithEjection(0, time.Second)}, "WithEjection"},
		{"check timeout", []string{"a:1"}, []PoolOption{WithHealthCheck(HealthCheck{Interval: time.Second, Timeout: 2 * time.Second})}, "WithHealthCheck"},
		{"check fall", []string{"a:1"}, []PoolOption{WithHealthCheck(HealthCheck{Fall: -1})}, "WithHealthCheck"},
	}
	for _, tc := range poolCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPool(tc.addrs, tc.opts...)
			if !errors.Is(err, ErrInvalidOption) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("NewPool: %v, want ErrInvalidOption naming %s", err, tc.want)
			}
		})
	}
}

// TestPoolServesOneProxy: a second engine booting a Proxy over a pool
// already in use fails.
func TestPoolServesOneProxy(t *testing.T) {
	checkFds(t)
	pool := mustPool(t, []string{"127.0.0.1:1"})
	startProxy(t, WithPool(pool))
	px2, err := New(WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(px2, engine.WithShards(1))
	if err == nil {
		e.Stop(t.Context())
		t.Fatal("a second proxy booted over a pool in use")
	}
	if !errors.Is(err, ErrPoolInUse) {
		t.Fatalf("engine.New: %v, want ErrPoolInUse", err)
	}
}

func TestValidAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:80", true},
		{"localhost:8080", true},
		{"[::1]:80", true},
		{"tcp://10.0.0.1:80", true},
		{"tcp6://[::1]:80", true},
		{"unix:///tmp/s.sock", true},
		{"localhost", false},
		{"127.0.0.1:", false},
		{"unix://", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := ValidAddr(tc.addr); got != tc.want {
				t.Fatalf("ValidAddr(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}
