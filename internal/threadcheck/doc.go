// Package threadcheck tells what this process's threads are blocked in,
// for the tests that check how a shard waits (a thread asleep in
// epoll_wait, or none). It is test support, internal to the project, and
// Linux only (it reads /proc/self/task/*/syscall).
package threadcheck
