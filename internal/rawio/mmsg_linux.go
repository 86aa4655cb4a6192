package rawio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recvmmsg is recvmmsg(2) without a timeout on a non-blocking datagram
// socket: it fills up to len(msgs) messages and returns how many. An empty
// msgs reads nothing and returns 0, nil without a system call.
func Recvmmsg(fd int, msgs []unix.Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	return ignoringEINTR(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
}

// Sendmmsg is sendmmsg(2) on a non-blocking datagram socket: it sends
// messages in order and returns how many left. An error is returned only
// when the first message could not be sent; an error on a later one ends
// the batch early and comes back from the next call. An empty msgs sends
// nothing and returns 0, nil without a system call.
func Sendmmsg(fd int, msgs []unix.Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	return ignoringEINTR(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
}

// Sendmsg is sendmsg(2) on a non-blocking datagram socket: one message, no
// vector of them to walk, for the batch of one that a lone datagram makes.
// It returns the bytes sent.
func Sendmsg(fd int, msg *unix.Msghdr, flags int) (int, error) {
	return ignoringEINTR(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), uintptr(flags), 0, 0, 0)
}
