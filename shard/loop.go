package shard

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Loop is one reactor: an epoll instance, an eventfd for wake-ups, a timer
// heap, a task queue and a table of watched fds, all owned by the goroutine
// that runs it. See the package documentation for which methods may be
// called from where.
type Loop struct {
	cfg    config
	poller *poller
	epoch  time.Time // clock() counts monotonic nanoseconds from here

	tasks     taskQueue
	timers    timerHeap  // loop only
	watches   watchTable // loop only
	lastReady int64      // loop only; the clock when epoll last reported fds (WithBusyPoll)
	gen       uint32     // loop only; the last generation handed to Watch

	// runMu is held for as long as Run or RunOnce runs, so Close can wait
	// for the loop to leave before it frees what the loop uses.
	runMu    sync.Mutex
	released bool         // guarded by runMu
	loopTid  atomic.Int64 // the OS thread inside Run or RunOnce, else 0
	cpu      atomic.Int64 // the CPU the loop last saw itself on; -1 unknown

	// sleeping is set by the loop just before a blocking epoll_wait;
	// wakeSent makes sure only one eventfd write is in flight. Both are
	// read by producers in Submit.
	sleeping atomic.Bool
	wakeSent atomic.Bool

	exitReq  atomic.Bool // set by Exit (any goroutine), cleared when Run returns
	breakReq atomic.Bool // set by Break (any goroutine), cleared when Run returns
	closing  atomic.Bool // set once by Close

	// Loop-only cursors, kept in the Loop so a recovered panic can resume
	// where the panicking callback left off.
	evIdx, evN  int
	timerBudget int
	taskBudget  int

	stats counters
}

// watch is one row of the fd table. gen tags the epoll registration so that
// an event queued for an fd that was unwatched, closed and reused within
// one round is not delivered to the new owner.
type watch struct {
	h   Handler
	gen uint32
	ev  Events
}

// New creates a loop with its epoll instance and eventfd. It starts nothing:
// call Run (or RunOnce) to dispatch. On platforms without epoll it returns
// ErrUnsupported.
func New(opts ...Option) (*Loop, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := newPoller(cfg.events, cfg.runtimeWait)
	if err != nil {
		return nil, err
	}
	l := &Loop{cfg: cfg, poller: p, epoch: time.Now()}
	l.cpu.Store(-1)
	return l, nil
}

// Run dispatches events, timers and tasks until Exit, Break or Close. It
// locks the calling goroutine to its OS thread and never unlocks it (except
// while a WithRuntimeWait loop without WithCPU is parked), so a thread
// pinned with WithCPU dies with the goroutine instead of going back to the
// runtime's pool: run each loop on a goroutine of its own. Run
// returns nil when told to stop, ErrRunning if the loop is already running,
// ErrClosed if it was closed before Run began, and a wrapped error if
// epoll_wait or pinning fails.
func (l *Loop) Run() error {
	if err := l.acquire(); err != nil {
		return err
	}
	defer l.runMu.Unlock()
	runtime.LockOSThread()
	if l.cfg.cpu >= 0 {
		if err := pinThread(l.cfg.cpu); err != nil {
			return err
		}
	}
	l.loopTid.Store(int64(gettid()))
	defer l.loopTid.Store(0)
	// A callback's runtime.Goexit unwinds through here mid-round: no
	// round is running once Run is gone.
	defer l.stats.roundStart.Store(0)
	defer l.exitReq.Store(false)
	defer l.breakReq.Store(false)
	for rounds := 0; ; rounds++ {
		if rounds&1023 == 0 {
			l.cpu.Store(int64(currentCPU()))
		}
		if l.closing.Load() {
			return l.release()
		}
		if err := l.round(true); err != nil {
			return err
		}
		if l.exitReq.Load() || l.breakReq.Load() {
			if l.closing.Load() {
				return l.release()
			}
			return nil
		}
	}
}

// acquire takes the right to run the loop (runMu) for Run or RunOnce:
// ErrClosed after Close, ErrRunning while another goroutine runs it. On
// success the caller unlocks runMu when it is done.
func (l *Loop) acquire() error {
	if l.closing.Load() {
		return ErrClosed
	}
	if !l.runMu.TryLock() {
		return ErrRunning
	}
	if l.released {
		l.runMu.Unlock()
		return ErrClosed
	}
	return nil
}

// RunOnce runs one round: it waits for events (only if block is true, and
// then no longer than the nearest timer), dispatches them, fires due timers
// and runs queued tasks. A pending Exit or Break is consumed. It returns
// ErrRunning if another goroutine is running the loop and ErrClosed after
// Close.
func (l *Loop) RunOnce(block bool) error {
	if err := l.acquire(); err != nil {
		return err
	}
	defer l.runMu.Unlock()
	// Locked for the round so that Close from a callback recognises the
	// loop's own thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.loopTid.Store(int64(gettid()))
	defer l.loopTid.Store(0)
	defer l.stats.roundStart.Store(0) // see Run
	err := l.round(block)
	l.exitReq.Store(false)
	l.breakReq.Store(false)
	if l.closing.Load() {
		if rerr := l.release(); err == nil {
			err = rerr
		}
	}
	return err
}

// Exit makes Run return: after the current round when after <= 0, else once
// after has passed (event_base_loopexit). Called while the loop is not
// running, it ends the next Run after that Run's first round (or, with
// after > 0, once after has passed from that round). Any goroutine.
func (l *Loop) Exit(after time.Duration) {
	if after <= 0 {
		l.exitReq.Store(true)
		l.wake()
		return
	}
	// A closed loop has no Run to end, so the error is of no interest.
	// The task ignores the queue limit: a full queue must not make Run
	// miss its end.
	_ = l.submit(func() {
		l.AfterFunc(after, func() { l.exitReq.Store(true) })
	}, false)
}

// Break makes Run return as soon as the running callback returns, leaving
// the rest of the round (ready fds, due timers, queued tasks) for the next
// Run (event_base_loopbreak). Called while the loop is not running, it makes
// the next Run return at once. Any goroutine.
func (l *Loop) Break() {
	l.breakReq.Store(true)
	l.wake()
}

// Close stops the loop and frees its epoll fd, its eventfd and its timers;
// tasks still queued are dropped without running, and watched fds are left
// open (they belong to whoever watched them). Close waits for a running Run
// to return, except when called from the loop's own callbacks: then it only
// starts the stop, and Run frees everything on its way out. Close is safe to
// call more than once and from any goroutine.
func (l *Loop) Close() error {
	// Shut the queue at once, not when Run gets round to release: a Submit
	// from now on fails with ErrClosed instead of queueing a task that
	// would be dropped. The eventfd stays open until release, which comes
	// after this under the same mutex, so the wake-up cannot hit a reused
	// fd number.
	q := &l.tasks
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		l.closing.Store(true)
		l.wakeLocked()
	}
	q.mu.Unlock()
	if l.inLoop() {
		return nil
	}
	l.runMu.Lock()
	defer l.runMu.Unlock()
	return l.release()
}

// release frees everything once; the caller holds runMu.
func (l *Loop) release() error {
	if l.released {
		return nil
	}
	l.released = true
	q := &l.tasks
	q.mu.Lock()
	q.closed = true // Close has set it already; kept so release stands alone
	dropped := q.drop()
	q.mu.Unlock()
	l.evIdx, l.evN = 0, 0
	l.stats.dropped.Add(uint64(dropped))
	for _, t := range l.timers {
		t.index = 0
	}
	clear(l.timers)
	l.timers = nil
	l.stats.timers.Store(0)
	l.watches = watchTable{}
	l.stats.watched.Store(0)
	return l.poller.close()
}

// OSThread reports the ID of the OS thread that runs the loop's callbacks
// now: set while Run or RunOnce runs, 0 otherwise, and 0 while a loop with
// WithRuntimeWait is parked off its thread (it may resume on another). A
// caller that finds its own thread ID here is one of the loop's callbacks.
// Any goroutine.
func (l *Loop) OSThread() int { return int(l.loopTid.Load()) }

// inLoop reports whether the caller is one of the loop's callbacks: its
// thread is the one inside Run or RunOnce now. Any goroutine.
func (l *Loop) inLoop() bool {
	tid := l.loopTid.Load()
	return tid != 0 && tid == int64(gettid())
}

// CPU reports the CPU the loop's thread was last seen on (it looks when Run
// starts and every 1024 rounds), or -1 before Run. With WithCPU it is the
// pinned CPU. Any goroutine.
func (l *Loop) CPU() int { return int(l.cpu.Load()) }

// Now returns the loop's monotonic clock: the time since New. Any goroutine.
func (l *Loop) Now() time.Duration { return time.Duration(l.clock()) }

func (l *Loop) clock() int64 { return int64(time.Since(l.epoch)) }

// breaking reports whether the round must stop after the running callback:
// Break was called, or Close (from a callback, which cannot wait for the
// round to end; the rest of the round belongs to a closed loop).
func (l *Loop) breaking() bool { return l.breakReq.Load() || l.closing.Load() }

// round is one iteration: wait, dispatch fds, fire timers, run tasks.
//
// A round cut short by Break (or a callback's runtime.Goexit) leaves events
// it has not delivered in the events array; the next round delivers them
// before it polls again. Polling first would overwrite them, and an
// edge-triggered or one-shot fd is not reported twice: its owner would wait
// forever.
func (l *Loop) round(block bool) error {
	if l.evIdx >= l.evN {
		timeout := 0
		if block && !l.tasks.hasTasks() && !l.exitReq.Load() && !l.breakReq.Load() {
			timeout = l.timeoutMs()
			if timeout != 0 && l.cfg.busyPoll > 0 && l.clock()-l.lastReady < l.cfg.busyPoll {
				timeout = 0 // WithBusyPoll: stay awake a while after the last ready fd
			}
			if timeout != 0 {
				l.sleeping.Store(true)
				// Producers check sleeping after they queue; re-checking
				// here after setting it closes the gap between the two.
				if l.tasks.waiting.Load() > 0 || l.exitReq.Load() || l.breakReq.Load() || l.closing.Load() {
					timeout = 0
				}
			}
		}
		var n int
		var err error
		if timeout != 0 && l.poller.runtimeWaiting() {
			n, err = l.park()
		} else {
			n, err = l.poller.wait(timeout)
		}
		l.sleeping.Store(false)
		if err != nil {
			return err
		}
		l.evIdx, l.evN = 0, n
		if n > 0 && l.cfg.busyPoll > 0 {
			l.lastReady = l.clock()
		}
	}
	start := l.clock()
	l.stats.roundStart.Store(start)
	for !l.safely(l.dispatch, 0) {
	}
	if len(l.timers) > 0 {
		l.runTimers(l.clock())
	}
	if l.tasks.hasTasks() {
		l.runTasks(l.cfg.maxTasks)
	}
	end := l.clock()
	l.stats.roundStart.Store(0)
	l.stats.busy.Add(end - start)
	l.stats.iterations.Add(1)
	return nil
}

// dispatch delivers the ready events of this round, resuming at evIdx.
func (l *Loop) dispatch(int64) {
	for l.evIdx < l.evN && !l.breaking() {
		fd, gen, ev := l.poller.event(l.evIdx)
		l.evIdx++
		if l.poller.isWake(fd) {
			l.poller.drainWake()
			l.wakeSent.Store(false)
			continue
		}
		w := l.watches.get(fd)
		if w == nil || w.h == nil || w.gen != gen {
			continue // unwatched, or unwatched and reused, this round
		}
		// Only what the fd is watched for now: a Modify earlier in the
		// round (say, the engine pausing reads on a connection from its
		// peer's handler) must hold for events already reported.
		if ev &= w.ev | EventErr | EventHup; ev == 0 {
			continue
		}
		w.h.HandleEvents(fd, ev)
	}
}

// safely runs fn(arg) and reports whether it returned normally. A panic is
// recovered and handed to the panic hook; the caller then calls fn again,
// which resumes from the cursors kept in the Loop.
func (l *Loop) safely(fn func(int64), arg int64) (ok bool) {
	defer func() {
		if ok {
			return
		}
		if v := recover(); v != nil {
			l.stats.panics.Add(1)
			l.cfg.onPanic(v, stack())
		} else {
			ok = true // runtime.Goexit: let it unwind, do not retry
		}
	}()
	fn(arg)
	return true
}
