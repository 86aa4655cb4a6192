package shard

// watchPageBits sizes the pages of the watch table: 512 entries, 12 KiB.
const (
	watchPageBits = 9
	watchPageLen  = 1 << watchPageBits
)

// watchTable maps fds to their watches. Fds are small and dense, so it is
// indexed, not hashed; it grows in fixed pages rather than by doubling one
// array, so a loop with many fds holds about one entry per fd and growing
// it copies and discards nothing (with 10,000 connections a doubled array
// would hold 16,384 entries and leave the smaller ones as garbage).
type watchTable struct {
	pages []*[watchPageLen]watch

	// parked lists the fds Park took out of dispatch this round, whose
	// epoll registrations deleteParked removes; flushQueued says that its
	// task is queued, flush is that task (made once, so parking allocates
	// nothing per fd).
	parked      []int32
	flushQueued bool
	flush       func()
}

// park queues fd's delete for the end of the round and reports whether it
// was queued (false: the loop takes no more tasks, delete now).
func (t *watchTable) park(fd int, l *Loop) bool {
	if !t.flushQueued {
		if t.flush == nil {
			t.flush = l.deleteParked
		}
		if l.submit(t.flush, false) != nil {
			return false
		}
		t.flushQueued = true
	}
	t.parked = append(t.parked, int32(fd))
	return true
}

// get returns fd's entry, or nil if fd is beyond the table. An entry with
// a nil handler is not watched.
func (t *watchTable) get(fd int) *watch {
	p := fd >> watchPageBits
	if fd < 0 || p >= len(t.pages) || t.pages[p] == nil {
		return nil
	}
	return &t.pages[p][fd&(watchPageLen-1)]
}

// slot returns fd's entry, adding its page if needed. fd must not be
// negative.
func (t *watchTable) slot(fd int) *watch {
	p := fd >> watchPageBits
	if p >= len(t.pages) {
		t.pages = append(t.pages, make([]*[watchPageLen]watch, p+1-len(t.pages))...)
	}
	if t.pages[p] == nil {
		t.pages[p] = new([watchPageLen]watch)
	}
	return &t.pages[p][fd&(watchPageLen-1)]
}
