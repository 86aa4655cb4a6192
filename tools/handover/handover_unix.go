//go:build unix

package handover

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Inherited returns the sockets this process was passed, from FirstFD
// on, each as an *os.File with its name, and who passed them; nothing
// (FromNone) when the environment says nothing was. It unsets the
// variables whether or not they were meant for us, so a process we start
// does not take them for its own, and marks the fds close-on-exec for the
// same reason. An fd the variables promise that is not an open socket is
// ErrBadEnv. Call it once, early, before anything else opens fds.
func Inherited() ([]*os.File, Source, error) {
	p, err := parseEnv(os.Getenv, os.Getpid())
	for _, k := range []string{EnvListenFDs, EnvListenFDNames, EnvListenPID, EnvInheritFDs, EnvInheritFDNames} {
		os.Unsetenv(k)
	}
	if err != nil || p.source == FromNone {
		return nil, FromNone, err
	}
	files := make([]*os.File, 0, len(p.names))
	for i, name := range p.names {
		fd := FirstFD + i
		// Check it is a socket, not merely open: past the ones really
		// passed, the runtime may have opened fds of its own.
		if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, FromNone, fmt.Errorf("%w: fd %d (%d of %d, from %s) is not a socket: %v", ErrBadEnv, fd, i+1, len(p.names), p.source, err)
		}
		unix.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, p.source, nil
}

// batch is how many fds one message carries: well under the kernel's
// SCM_MAX_FD (253).
const batch = 64

// Send writes files to c, a connected SOCK_SEQPACKET unix socket
// ("unixpacket"), in messages of at most 64 fds, each with the files'
// names (query-escaped, one a line) in its payload, and then a message
// without fds that ends the list. The files stay open and keep their
// mode: the fds are taken through SyscallConn, since Fd would switch a
// non-blocking socket, which the sender's engine still accepts on, to
// blocking mode.
func Send(c *net.UnixConn, files []*os.File) error {
	for len(files) > 0 {
		n := min(len(files), batch)
		names := make([]string, 0, n)
		fds := make([]int, 0, n)
		closeFds := func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		for _, f := range files[:n] {
			names = append(names, f.Name())
			fd, err := dupOf(f)
			if err != nil {
				closeFds()
				return err
			}
			fds = append(fds, fd)
		}
		_, _, err := c.WriteMsgUnix(appendPayload(nil, names), unix.UnixRights(fds...), nil)
		closeFds()
		if err != nil {
			return fmt.Errorf("handover: send: %w", err)
		}
		files = files[n:]
	}
	if _, _, err := c.WriteMsgUnix([]byte(magic), nil, nil); err != nil {
		return fmt.Errorf("handover: send: %w", err)
	}
	return nil
}

// dupOf duplicates f's fd (close-on-exec) without touching its mode.
func dupOf(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("handover: %s: %w", f.Name(), err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(raw uintptr) { fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("handover: %s: %w", f.Name(), err)
	}
	if derr != nil {
		return -1, fmt.Errorf("handover: %s: %w", f.Name(), os.NewSyscallError("fcntl", derr))
	}
	return fd, nil
}

// Receive reads what Send wrote on c and returns the files, named, in
// the order they were sent. The fds arrive close-on-exec. A message that
// is not a hand-over, or whose names and fds differ in count, is
// ErrProtocol, and every fd received is closed.
func Receive(c *net.UnixConn) ([]*os.File, error) {
	var fds []int
	var names []string
	fail := func(err error) ([]*os.File, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, err
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(batch*4))
	for {
		n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
		if errors.Is(err, io.EOF) {
			return fail(fmt.Errorf("%w: the sender hung up before the end of the list", ErrProtocol))
		}
		if err != nil {
			return fail(fmt.Errorf("handover: receive: %w", err))
		}
		got, err := rights(oob[:oobn])
		fds = append(fds, got...) // first, so that every failure closes them
		if err != nil {
			return fail(err)
		}
		if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
			return fail(fmt.Errorf("%w: message truncated", ErrProtocol))
		}
		if n == 0 {
			return fail(fmt.Errorf("%w: the sender hung up before the end of the list", ErrProtocol))
		}
		more, err := parsePayload(buf[:n], len(got))
		if err != nil {
			return fail(err)
		}
		if len(more) == 0 {
			break
		}
		names = append(names, more...)
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), names[i])
	}
	return files, nil
}

// rights returns the fds the control messages in oob carry, marked
// close-on-exec (the flag is not carried by SCM_RIGHTS).
func rights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrProtocol, err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // another kind of control message
		}
		for _, fd := range got {
			unix.CloseOnExec(fd)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
