package shard

import (
	"errors"
	"fmt"
	"syscall"
)

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
	if err := l.register(fd, w, ev&interest); err != nil {
		return err
	}
	*w = watch{h: h, gen: l.gen, ev: ev & interest}
	l.stats.watched.Add(1)
	return nil
}

// register puts fd in the epoll set under the generation l.gen. An fd
// parked by Park is registered still: a modify re-arms it, unless the fd
// was closed (and its number reused) since, which the kernel answers with
// ENOENT, and then it is added.
func (l *Loop) register(fd int, w *watch, ev Events) error {
	if w.ev != 0 { // parked
		w.ev = 0
		err := l.poller.mod(fd, ev, l.gen)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.ENOENT) {
			_ = l.poller.del(fd) // start over from no registration
		}
	}
	return l.poller.add(fd, ev, l.gen)
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

// Handover gives a watched fd to another handler, watched for ev from now
// on: one EPOLL_CTL_MOD if ev differs from what the fd is watched for, no
// system call if it is the same. It replaces Unwatch followed by Watch,
// which would cost a delete and an add, when one owner of a socket passes
// it to the next (a connect in progress to the connection it becomes).
// The registration and its generation are kept, so a report already
// delivered in this round is not repeated; epoll reports an fd at most once
// per wait, so no other report for it is pending. Loop only.
func (l *Loop) Handover(fd int, ev Events, h Handler) error {
	if l.closing.Load() {
		return ErrClosed
	}
	if err := checkInterest(fd, ev); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("shard: Handover(%d): nil handler", fd)
	}
	w := l.watches.get(fd)
	if w == nil || w.h == nil {
		return fmt.Errorf("%w: fd %d", ErrNotWatched, fd)
	}
	if ev&interest != w.ev {
		if err := l.poller.mod(fd, ev&interest, w.gen); err != nil {
			return err
		}
		w.ev = ev & interest
	}
	w.h = h
	return nil
}

// Forget is Unwatch without the system call, for an fd the caller closes
// right after: closing the last descriptor of a socket takes it out of the
// epoll set by itself, so an EPOLL_CTL_DEL first would be wasted. Only for
// an fd of which no copy exists (no dup, no child that inherited it): a
// copy keeps the registration alive after the close, and the loop, which
// drops its reports (they carry the old generation, or name an fd no
// longer watched), still wakes for them until the copy is closed too.
// An fd neither watched nor parked gives ErrNotWatched. Loop only.
func (l *Loop) Forget(fd int) error {
	if l.closing.Load() {
		return ErrClosed
	}
	w := l.watches.get(fd)
	if w == nil || w.h == nil && w.ev == 0 {
		// Bare, unlike the others: the engine forgets every fd it
		// closes, watched or not, and this must not allocate.
		return ErrNotWatched
	}
	if w.h != nil {
		l.stats.watched.Add(-1)
	}
	*w = watch{} // a parked fd's delete, still queued, finds nothing to do
	return nil
}

// Park is Unwatch with the EPOLL_CTL_DEL put off to the end of the round:
// fd's reports stop at once, and its registration is deleted after this
// round's fds, timers and tasks (as a task of the loop's own) unless
// Watch or Forget comes first. Watch then re-arms it with one
// EPOLL_CTL_MOD, and Forget (before the fd is closed) costs nothing, where
// Unwatch would have cost a delete followed by an add, or a delete that
// the close makes anyway. An owner that stops reading at a peer's EOF and
// closes once the other side is done, often in the same round, parks.
// Like Unwatch, call it before closing the fd, and call Forget before the
// close if the round may not have ended. Loop only.
func (l *Loop) Park(fd int) error {
	if l.closing.Load() {
		return ErrClosed
	}
	w := l.watches.get(fd)
	if w == nil || w.h == nil {
		return fmt.Errorf("%w: fd %d", ErrNotWatched, fd)
	}
	w.h = nil // dispatch drops its reports; ev and gen name the registration
	l.stats.watched.Add(-1)
	if !l.watches.park(fd, l) {
		*w = watch{}
		return l.poller.del(fd)
	}
	return nil
}

// deleteParked deletes the registrations of the fds parked in this round
// that were neither watched again nor forgotten since.
func (l *Loop) deleteParked() {
	t := &l.watches
	for _, fd := range t.parked {
		if w := t.get(int(fd)); w != nil && w.h == nil && w.ev != 0 {
			*w = watch{}
			_ = l.poller.del(int(fd)) // an error leaves nothing to undo
		}
	}
	t.parked = t.parked[:0]
	t.flushQueued = false
}
