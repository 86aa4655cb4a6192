package engine

import (
	"slices"
	"testing"
)

// checkConnTable compares t with the model: the same IDs, found by get,
// and nothing else.
func checkConnTable(t *testing.T, tab *connTable, model map[uint64]*Conn) {
	t.Helper()
	if tab.n != len(model) {
		t.Fatalf("table holds %d, model %d", tab.n, len(model))
	}
	for id, c := range model {
		if got := tab.get(id); got != c {
			t.Fatalf("get(%#x) = %p, want %p", id, got, c)
		}
	}
	all := tab.appendAll(nil)
	if len(all) != len(model) {
		t.Fatalf("appendAll returned %d, want %d", len(all), len(model))
	}
	for _, c := range all {
		if model[c.id] != c {
			t.Fatalf("appendAll returned %#x, not in the model", c.id)
		}
	}
}

func TestConnTable(t *testing.T) {
	cases := []struct {
		name string
		ids  func(i int) uint64
	}{
		{"sequential", func(i int) uint64 { return uint64(i + 1) }},
		{"shard bits", func(i int) uint64 { return 3<<48 | uint64(i+1) }},
		// Multiples of the table size collide in the low bits: a weak
		// hash would put them all in one probe run.
		{"strided", func(i int) uint64 { return uint64(i+1) << 12 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tab connTable
			model := map[uint64]*Conn{}
			if tab.get(1) != nil || tab.remove(1) {
				t.Fatal("empty table finds an id")
			}
			for i := range 3000 {
				c := &Conn{id: tc.ids(i)}
				tab.put(c)
				model[c.id] = c
			}
			checkConnTable(t, &tab, model)
			// Remove every third, then every other of the rest: the
			// backward shifts must keep every remaining probe run whole.
			for i := 0; i < 3000; i += 3 {
				id := tc.ids(i)
				if !tab.remove(id) {
					t.Fatalf("remove(%#x) = false", id)
				}
				delete(model, id)
				if tab.remove(id) {
					t.Fatalf("second remove(%#x) = true", id)
				}
			}
			checkConnTable(t, &tab, model)
			ids := make([]uint64, 0, len(model))
			for id := range model {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for i, id := range ids {
				if i%2 == 0 {
					tab.remove(id)
					delete(model, id)
				}
			}
			checkConnTable(t, &tab, model)
			if 4*tab.n > 3*len(tab.slots) {
				t.Fatalf("load %d/%d above 3/4", tab.n, len(tab.slots))
			}
		})
	}
}

// FuzzConnTable runs a sequence of puts and removes, one per input byte,
// against a map.
func FuzzConnTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0x81, 3, 0x82, 0x80})
	f.Add([]byte{0x10, 0x20, 0x30, 0x40, 0x90, 0xa0, 0x10, 0x20})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var tab connTable
		model := map[uint64]*Conn{}
		for _, op := range ops {
			// Few distinct keys, with shared low bits, so probe runs
			// overlap and wrap.
			id := uint64(op&0x7f) << 10
			if op&0x80 == 0 {
				if model[id] == nil {
					c := &Conn{id: id}
					tab.put(c)
					model[id] = c
				}
			} else {
				_, had := model[id]
				if got := tab.remove(id); got != had {
					t.Fatalf("remove(%#x) = %v, want %v", id, got, had)
				}
				delete(model, id)
			}
		}
		checkConnTable(t, &tab, model)
	})
}
