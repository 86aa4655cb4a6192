//go:build !linux

package shard

import "time"

// poller is a stand-in so the module compiles off Linux; New fails with
// ErrUnsupported before any of these methods can be reached.
type poller struct{}

func newPoller(int, bool) (*poller, error)      { return nil, ErrUnsupported }
func (*poller) wait(int) (int, error)           { return 0, ErrUnsupported }
func (*poller) wake()                           {}
func (*poller) drainWake()                      {}
func (*poller) add(int, Events, uint32) error   { return ErrUnsupported }
func (*poller) mod(int, Events, uint32) error   { return ErrUnsupported }
func (*poller) del(int) error                   { return ErrUnsupported }
func (*poller) event(int) (int, uint32, Events) { return -1, 0, 0 }
func (*poller) isWake(int) bool                 { return false }
func (*poller) close() error                    { return nil }

func pinThread(int) error { return ErrUnsupported }
func currentCPU() int     { return -1 }
func gettid() int         { return 0 }

func (*poller) park(int64, time.Time) (int, error) { return 0, ErrUnsupported }
func (*poller) runtimeWaiting() bool               { return false }
