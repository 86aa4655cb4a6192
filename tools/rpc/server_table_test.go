package rpc

import (
	"slices"
	"testing"
)

// TestServerLookup checks the method table against the map it is built
// from: small numbers by index, a large one through the map, unknown and
// nil handlers not found either way.
func TestServerLookup(t *testing.T) {
	echo := func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil }
	for _, tc := range []struct {
		name      string
		register  []uint16
		nilFn     []uint16
		wantTable bool
	}{
		{name: "small numbers", register: []uint16{0, 1, 7}, nilFn: []uint16{3}, wantTable: true},
		{name: "largest indexed", register: []uint16{2, maxTableMethod}, wantTable: true},
		{name: "one past the table", register: []uint16{2, maxTableMethod + 1}, nilFn: []uint16{5}},
		{name: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer()
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.register {
				s.Handle(id, echo)
			}
			for _, id := range tc.nilFn {
				s.Handle(id, nil)
			}
			s.table = methodTable(s.methods)
			if (s.table != nil) != tc.wantTable {
				t.Fatalf("table built: %v, want %v", s.table != nil, tc.wantTable)
			}
			for _, id := range tc.register {
				if m, ok := s.lookup(id); !ok || m.fn == nil {
					t.Errorf("method %d not found", id)
				}
			}
			for _, id := range append([]uint16{4, 999, 65535}, tc.nilFn...) {
				if slices.Contains(tc.register, id) {
					continue
				}
				if _, ok := s.lookup(id); ok {
					t.Errorf("method %d found, none registered", id)
				}
			}
		})
	}
}
