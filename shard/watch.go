package shard

import "fmt"

// Watch registers fd with the loop: h receives readiness reports for the
// events asked for (EventRead and/or EventWrite, optionally with
// EventPeerClosed, EventEdge and EventOneShot). Reports are level-triggered
// and persistent unless EventEdge or EventOneShot says otherwise; a one-shot
// fd is re-armed with Modify. Errors and hang-ups are always reported. Loop
// only.
func (l *Loop) Watch(fd int, ev Events, h Handler) error {
	if l.closing.Load() {
		return ErrClosed
	}
	if err := checkInterest(fd, ev); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("shard: Watch(%d): nil handler", fd)
	}
	w := l.watches.slot(fd)
	if w.h != nil {
		return fmt.Errorf("%w: fd %d", ErrWatched, fd)
	}
	l.gen++
	if l.gen == 0 {
		l.gen = 1
	}
	if err := l.poller.add(fd, ev&interest, l.gen); err != nil {
		return err
	}
	*w = watch{h: h, gen: l.gen, ev: ev & interest}
	l.stats.watched.Add(1)
	return nil
}

// Modify changes what a watched fd is watched for, and re-arms a one-shot
// fd. Loop only.
func (l *Loop) Modify(fd int, ev Events) error {
	if l.closing.Load() {
		return ErrClosed
	}
	if err := checkInterest(fd, ev); err != nil {
		return err
	}
	w := l.watches.get(fd)
	if w == nil || w.h == nil {
		return fmt.Errorf("%w: fd %d", ErrNotWatched, fd)
	}
	if err := l.poller.mod(fd, ev&interest, w.gen); err != nil {
		return err
	}
	w.ev = ev & interest
	return nil
}

// Unwatch removes fd from the loop. Events already reported for it in the
// current round are not delivered. Call it before closing the fd. Loop only.
func (l *Loop) Unwatch(fd int) error {
	if l.closing.Load() {
		return ErrClosed
	}
	w := l.watches.get(fd)
	if w == nil || w.h == nil {
		return fmt.Errorf("%w: fd %d", ErrNotWatched, fd)
	}
	*w = watch{}
	l.stats.watched.Add(-1)
	return l.poller.del(fd)
}

// Watching reports the events fd is watched for, and whether it is watched.
// Loop only.
func (l *Loop) Watching(fd int) (Events, bool) {
	w := l.watches.get(fd)
	if w == nil || w.h == nil {
		return 0, false
	}
	return w.ev, true
}

func checkInterest(fd int, ev Events) error {
	if fd < 0 {
		return fmt.Errorf("shard: negative fd %d", fd)
	}
	if ev&(EventRead|EventWrite) == 0 {
		return fmt.Errorf("%w: fd %d, events %#x", ErrBadEvents, fd, uint32(ev))
	}
	return nil
}
