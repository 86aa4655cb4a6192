//go:build !linux

package engine_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/engine"
)

// TestUnsupported checks that, off Linux, the calls that start an engine
// fail with an error that wraps ErrUnsupported (and the standard
// errors.ErrUnsupported) and names the platform. Without an engine there
// is no Conn, Handle or listener to call anything else on.
func TestUnsupported(t *testing.T) {
	tests := []struct {
		name  string
		start func() (*engine.Engine, error)
	}{
		{"New", func() (*engine.Engine, error) { return engine.New(engine.BaseHandler{}) }},
		{"Serve", func() (*engine.Engine, error) {
			return engine.Serve(engine.BaseHandler{}, []string{"127.0.0.1:0"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tc.start()
			if e != nil {
				t.Errorf("%s returned an engine", tc.name)
			}
			if !errors.Is(err, engine.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("err = %v, want one wrapping engine.ErrUnsupported and errors.ErrUnsupported", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "unsupported platform") || !strings.Contains(msg, runtime.GOOS) {
				t.Errorf("message = %q, want it to say unsupported platform and name %s", msg, runtime.GOOS)
			}
		})
	}
}
