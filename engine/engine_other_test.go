//go:build !linux

package engine_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/engine"
)

// TestUnsupported checks that, off Linux, whatever would start or use an
// engine fails with an error that wraps ErrUnsupported (and the standard
// errors.ErrUnsupported) and names the platform.
func TestUnsupported(t *testing.T) {
	var e *engine.Engine
	var c engine.Conn
	var h engine.Handle
	tests := []struct {
		name string
		call func() error
	}{
		{"New", func() error {
			e, err := engine.New(engine.BaseHandler{})
			if e != nil {
				t.Errorf("New returned an engine: %v", e)
			}
			return err
		}},
		{"Serve", func() error {
			e, err := engine.Serve(engine.BaseHandler{}, []string{"127.0.0.1:0"})
			if e != nil {
				t.Errorf("Serve returned an engine: %v", e)
			}
			return err
		}},
		{"Engine.Listen", func() error { _, err := e.Listen("127.0.0.1:0"); return err }},
		{"Engine.Dial", func() error { return e.Dial("127.0.0.1:1", func(*engine.Conn, error) { t.Error("Dial callback ran") }) }},
		{"Engine.Enroll", func() error { return e.Enroll(nil) }},
		{"Engine.EnrollFd", func() error { return e.EnrollFd(-1, false) }},
		{"Engine.Offload", func() error { return e.Offload(func() { t.Error("offloaded work ran") }) }},
		{"Engine.Stop", func() error { return e.Stop(context.Background()) }},
		{"Conn.Write", func() error { _, err := c.Write([]byte("x")); return err }},
		{"Conn.AsyncWrite", func() error { return c.AsyncWrite([]byte("x"), nil) }},
		{"Conn.Close", func() error { return c.Close() }},
		{"Handle.Do", func() error { return h.Do(func(*engine.Conn) { t.Error("Do ran") }) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, engine.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("err = %v, want one wrapping engine.ErrUnsupported and errors.ErrUnsupported", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "unsupported platform") || !strings.Contains(msg, runtime.GOOS) {
				t.Errorf("message = %q, want it to say unsupported platform and name %s", msg, runtime.GOOS)
			}
		})
	}
	if _, ok := e.Conn(1); ok {
		t.Error("Engine.Conn found a connection")
	}
	if n := e.Shards(); n != 0 {
		t.Errorf("Shards() = %d, want 0", n)
	}
}
