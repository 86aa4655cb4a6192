//go:build linux

package shard_test

import (
	"fmt"
	"time"

	"github.com/shardnet/shardnet/shard"
	"golang.org/x/sys/unix"
)

// Example runs a loop on its own goroutine, watches a pipe for reads, and
// talks to the loop from outside through Submit. Everything the loop owns
// (the watch, the timer) is set up inside a task, on the loop.
func Example() {
	l, err := shard.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	done := make(chan error)
	go func() { done <- l.Run() }()

	l.Submit(func() {
		l.Watch(p[0], shard.EventRead, shard.HandlerFunc(func(fd int, ev shard.Events) {
			var buf [64]byte
			n, _ := unix.Read(fd, buf[:])
			fmt.Printf("read %q\n", buf[:n])
			// Stop in 10ms; the loop keeps serving until then.
			l.Exit(10 * time.Millisecond)
		}))
		fmt.Println("watching")
	})
	// Another goroutine writes; the loop wakes from epoll_wait to read.
	unix.Write(p[1], []byte("hello"))

	fmt.Println("Run returned:", <-done)
	// Output:
	// watching
	// read "hello"
	// Run returned: <nil>
}

// ExampleLoop_Every shows a periodic timer driven by RunOnce from the
// goroutine that owns the loop.
func ExampleLoop_Every() {
	l, err := shard.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	ticks := 0
	var t *shard.Timer
	t = l.Every(5*time.Millisecond, func() {
		ticks++
		fmt.Println("tick", ticks)
		if ticks == 3 {
			t.Stop()
		}
	})
	for t.Active() {
		l.RunOnce(true) // sleeps until the next tick
	}
	// Output:
	// tick 1
	// tick 2
	// tick 3
}
