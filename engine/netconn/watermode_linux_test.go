package netconn

import (
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// TestConnsNotifyOnly: every connection of the adapter has watermarks that
// only notify, so output above the high mark never stops its reading. An
// engine made by Listen has notify mode for all its connections; with
// WithWaterMode(WaterPause) given to Listen, each connection sets
// notify-mode marks of its own instead.
func TestConnsNotifyOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		eopts []engine.Option
	}{
		{"Listen's engine", nil},
		{"an engine in pause mode", []engine.Option{engine.WithWaterMode(engine.WaterPause)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, nil, tc.eopts...)
			dc, ac := s.pair(t)
			for _, c := range []*Conn{dc, ac} {
				got := make(chan engine.WaterMode, 1)
				if err := c.Handle().Do(func(ec *engine.Conn) {
					_, _, mode := ec.Watermarks()
					got <- mode
				}); err != nil {
					t.Fatalf("Do: %v", err)
				}
				select {
				case mode := <-got:
					if mode != engine.WaterNotify {
						t.Fatalf("connection %d: watermark mode %v, want WaterNotify", c.ID(), mode)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the shard did not run the task")
				}
			}
		})
	}
}
