//go:build linux

package shard_test

import (
	"fmt"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// ExampleWithRuntimeWait runs a loop that, with nothing to do, parks in the
// Go runtime's netpoller: a task from outside and a timer on the loop still
// wake it, as they wake a loop blocked in epoll_wait.
func ExampleWithRuntimeWait() {
	l, err := shard.New(shard.WithRuntimeWait(true))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	done := make(chan error)
	go func() { done <- l.Run() }()

	time.Sleep(10 * time.Millisecond) // the loop is parked by now
	l.Submit(func() {
		fmt.Println("task ran")
		l.AfterFunc(5*time.Millisecond, func() {
			fmt.Println("timer fired")
			l.Exit(0)
		})
	})
	fmt.Println("Run:", <-done)
	// Output:
	// task ran
	// timer fired
	// Run: <nil>
}
