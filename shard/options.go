package shard

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

// Option configures a Loop in New.
type Option func(*config)

// config holds a Loop's settings; defaultConfig states every default.
type config struct {
	// cpu is the index into the process's allowed CPU set that Run pins its
	// thread to; -1 leaves the thread unpinned.
	cpu int
	// events is the size of the epoll_wait events array.
	events int
	// maxTasks caps the tasks run per round so queued work cannot starve I/O.
	maxTasks int
	// queueLimit caps the tasks waiting in the queue; 0 means unbounded.
	queueLimit int
	// onPanic receives panics recovered from callbacks.
	onPanic func(v any, stack []byte)
	// busyPoll is how long after the last ready fd the loop polls without
	// sleeping, in nanoseconds; 0 means it sleeps at once.
	busyPoll int64
	// runtimeWait makes an idle loop park in the Go runtime's netpoller
	// instead of blocking in epoll_wait.
	runtimeWait bool
}

func defaultConfig() config {
	return config{
		cpu:        -1,
		events:     256,
		maxTasks:   1024,
		queueLimit: 0,
		onPanic:    printPanic,
	}
}

func (c *config) validate() error {
	switch {
	case c.cpu < -1:
		return fmt.Errorf("%w: WithCPU(%d): want an index >= 0", ErrInvalidOption, c.cpu)
	case c.events < 1 || c.events > 1<<16:
		return fmt.Errorf("%w: WithEventsPerWait(%d): want 1..65536", ErrInvalidOption, c.events)
	case c.maxTasks < 1:
		return fmt.Errorf("%w: WithMaxTasksPerRound(%d): want >= 1", ErrInvalidOption, c.maxTasks)
	case c.queueLimit < 0:
		return fmt.Errorf("%w: WithTaskQueueLimit(%d): want >= 0", ErrInvalidOption, c.queueLimit)
	case c.onPanic == nil:
		return fmt.Errorf("%w: WithPanicHandler(nil)", ErrInvalidOption)
	case c.busyPoll < 0:
		return fmt.Errorf("%w: WithBusyPoll(%v): want >= 0", ErrInvalidOption, time.Duration(c.busyPoll))
	}
	return nil
}

// WithCPU makes Run pin its OS thread to the index-th CPU of the process's
// allowed set (sched_getaffinity), taken modulo the set's size, so shard i of
// an engine can pass i. Default: not pinned.
func WithCPU(index int) Option { return func(c *config) { c.cpu = index } }

// WithEventsPerWait sets how many ready fds one epoll_wait may report.
// Default 256.
func WithEventsPerWait(n int) Option { return func(c *config) { c.events = n } }

// WithMaxTasksPerRound caps the queued tasks run in one round; the rest wait
// for the next round, which then polls without blocking. Default 1024.
func WithMaxTasksPerRound(n int) Option { return func(c *config) { c.maxTasks = n } }

// WithTaskQueueLimit bounds the task queue: Submit returns ErrQueueFull when n
// tasks are already waiting. Default 0: unbounded (Submit never fails for
// lack of room, and memory grows with the backlog).
func WithTaskQueueLimit(n int) Option { return func(c *config) { c.queueLimit = n } }

// WithPanicHandler sets the hook that receives a panic recovered from a
// callback, with the stack of the panicking goroutine. It runs on the loop,
// which then carries on with the next callback. A panic in the hook itself
// is not recovered. Default: print both to standard error.
func WithPanicHandler(h func(v any, stack []byte)) Option {
	return func(c *config) { c.onPanic = h }
}

// WithBusyPoll keeps the loop awake for d after the last ready fd: it
// polls epoll without sleeping until d passes with nothing ready, then
// sleeps as usual. A loop that sleeps between bursts must be woken for the
// next one, and on loopback the sender's write pays for that wake-up: with
// the load generator's core saturated at 4 KiB x 16 in flight, a 20 µs
// busy poll raised the echo rate 15% at 22% more server CPU per message
// (benchmarks/README.md). For a core given to one loop, where the rate
// matters more than the CPU. Default 0: sleep as soon as nothing is ready.
func WithBusyPoll(d time.Duration) Option { return func(c *config) { c.busyPoll = int64(d) } }

// WithRuntimeWait makes an idle loop wait where the Go runtime waits: its
// epoll fd joins the runtime's netpoller and, with nothing to do, the loop
// parks its goroutine on it (as a read on a net.Conn does) instead of
// blocking its thread in epoll_wait; the ready fds are then taken with a
// zero-timeout epoll_wait. No thread sits in a system call while the loop
// is idle, so the runtime's sysmon has no P to retake from it. Unless
// WithCPU pins the thread, the goroutine is unlocked from its thread while
// parked, so the thread that finds it ready runs it without a hand-off;
// the loop is then a goroutine among others, woken when the scheduler next
// polls the network.
//
// The trade, as measured (benchmarks/results/sysmon-wait, wait-default):
// where a wake-up carries about one message (RPC, spread-out UDP) it cut
// the server's CPU per message to 0.65-0.9x, and with two unpinned loops
// (GOMAXPROCS=2) to 0.87-0.96x; but with several unpinned loops at
// saturation its p99 was 1.2-1.3x the blocking wait's (a parked loop is
// woken through the runtime's netpoller, not by the kernel directly),
// net/http over engine/netconn spent 1.05x the CPU per request at half
// load, saturated UDP up to 7% more per datagram, and each park costs
// two more epoll_waits (the poll before parking is what reports a
// level-triggered fd left ready). With one loop, pinned, it is level.
// Default off: a blocking epoll_wait.
func WithRuntimeWait(on bool) Option { return func(c *config) { c.runtimeWait = on } }

func printPanic(v any, stack []byte) {
	fmt.Fprintf(os.Stderr, "shard: recovered panic in callback: %v\n%s", v, stack)
}

// stack is a seam so a recovered panic reports where it happened.
func stack() []byte { return debug.Stack() }
