package engine

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// wrapError is a sentinel with its cause: errors.Is matches both.
type wrapError struct{ kind, cause error }

func (w *wrapError) Error() string   { return w.kind.Error() + ": " + w.cause.Error() }
func (w *wrapError) Unwrap() []error { return []error{w.kind, w.cause} }

// wrapSyscall names the call that failed; errors.Is still finds the errno.
func wrapSyscall(call string, err error) error { return os.NewSyscallError(call, err) }

// mapSubmitErr turns a closed shard into the engine's own error.
func mapSubmitErr(err error) error {
	if errors.Is(err, shard.ErrClosed) {
		return ErrEngineStopped
	}
	return err
}

// pollUntil checks cond every few milliseconds until it holds or ctx ends.
func pollUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// syscallRawConn is syscall.RawConn, named here to keep the listener code
// free of the syscall import.
type syscallRawConn = syscall.RawConn
