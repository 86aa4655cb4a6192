package stdlisten

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/internal/waitenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestListenServesHTTP: net/http answers over either transport, and
// closing the listener (as Server.Close does) leaves nothing running.
func TestListenServesHTTP(t *testing.T) {
	for _, over := range []string{"net", "shardnet"} {
		t.Run(over, func(t *testing.T) {
			ln, err := Listen(over, "127.0.0.1:0", 1)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, "over "+over)
			})}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			tr := &http.Transport{}
			resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()
			if string(body) != "over "+over {
				t.Errorf("body %q", body)
			}
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}

func TestListenRejectsUnknownTransport(t *testing.T) {
	if ln, err := Listen("quic", "127.0.0.1:0", 1); err == nil {
		ln.Close()
		t.Fatal("Listen took -over quic")
	}
}

// TestListenWaitEnv: over shardnet, SHARDNET_WAIT picks the shards' idle
// wait (so the driver can measure the adapter both ways); a value it does
// not know is refused with an error naming it, and net ignores it.
func TestListenWaitEnv(t *testing.T) {
	for _, tc := range []struct {
		over, env string
		ok        bool
	}{
		{"shardnet", "runtime", true},
		{"shardnet", "syscall", true},
		{"shardnet", "bogus", false},
		{"net", "bogus", true},
	} {
		t.Run(tc.over+"/"+tc.env, func(t *testing.T) {
			t.Setenv(waitenv.Var, tc.env)
			ln, err := Listen(tc.over, "127.0.0.1:0", 1)
			if !tc.ok {
				if err == nil {
					ln.Close()
					t.Fatalf("Listen with %s=%s succeeded", waitenv.Var, tc.env)
				}
				if !strings.Contains(err.Error(), waitenv.Var) {
					t.Errorf("error %q does not name %s", err, waitenv.Var)
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			if err := ln.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestListenNetAddrInUse(t *testing.T) {
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, over := range []string{"net", "shardnet"} {
		if ln, err := Listen(over, a.Addr().String(), 1); err == nil {
			ln.Close()
			t.Errorf("-over %s listened on a port in use", over)
		}
	}
}

func TestSomaxconn(t *testing.T) {
	if n := somaxconn(); n < 1 {
		t.Fatalf("somaxconn() = %d", n)
	}
}
