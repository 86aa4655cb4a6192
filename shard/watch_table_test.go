package shard

import "testing"

func TestWatchTable(t *testing.T) {
	var tab watchTable
	for _, fd := range []int{-1, 0, 5, watchPageLen, 10 * watchPageLen} {
		if w := tab.get(fd); w != nil {
			t.Fatalf("empty table: get(%d) = %v, want nil", fd, w)
		}
	}
	fds := []int{3, watchPageLen - 1, watchPageLen, 7*watchPageLen + 5}
	for i, fd := range fds {
		tab.slot(fd).gen = uint32(i + 1)
	}
	for i, fd := range fds {
		w := tab.get(fd)
		if w == nil || w.gen != uint32(i+1) {
			t.Fatalf("get(%d) = %v, want gen %d", fd, w, i+1)
		}
	}
	// Pages between are not allocated, and fds there read as absent.
	if w := tab.get(3 * watchPageLen); w != nil {
		t.Fatalf("get in an unallocated page = %v, want nil", w)
	}
	// Growing the table moves no entry: a pointer taken before stays
	// the entry's.
	p := tab.get(3)
	tab.slot(40 * watchPageLen)
	if tab.get(3) != p || p.gen != 1 {
		t.Fatal("entry moved when the table grew")
	}
	if got := len(tab.pages); got != 41 {
		t.Fatalf("pages = %d, want 41", got)
	}
}
