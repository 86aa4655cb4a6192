package engine

import (
	"fmt"
	"net"
	"os"
)

// Adopting listening sockets another process opened, and giving ours
// away: the two halves of a restart that refuses no connection. The
// kernel keeps a listening socket, and the connections waiting in its
// accept queue, for as long as any process holds an fd of it; so the old
// process hands its sockets to the new one (inherited across exec, or
// passed over a unix socket with SCM_RIGHTS), both accept for a moment,
// and the old one then closes its copies without a single connection
// being refused or reset.

// ListenFiles serves the listening sockets in files, which another
// process opened (systemd socket activation, or a previous generation of
// this program that handed them over), and returns the address they are
// bound to. All of them must be listening stream sockets (TCP or unix)
// bound to one address: one socket, or the N SO_REUSEPORT sockets of one
// address. The engine serves duplicates of the fds; the caller still owns
// files and may close them once ListenFiles returns. opts configure the
// listener as Listen's do: a TLS server that takes its sockets over passes
// ListenTLS again, since a socket carries no TLS of its own.
//
// With WithReusePort each socket is watched by a shard (socket i by shard
// i mod Shards(), so a hand-over between processes with different shard
// counts keeps every socket, and so every accept queue, served); when
// there are fewer sockets than shards and they have SO_REUSEPORT set, new
// sockets bound to the same address are opened for the shards left
// without one. Without WithReusePort every socket is watched by the
// acceptor loop and its connections are spread by the balancer.
//
// A unix socket's path is never removed by the engine for an adopted
// listener: it belongs to whoever created it. It returns ErrNotListener
// for a file that is not a listening socket or for sockets bound to
// different addresses, ErrEngineStopped after Stop. Any goroutine.
func (e *Engine) ListenFiles(files []*os.File, opts ...ListenOption) (net.Addr, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: ListenFiles without files", ErrNotListener)
	}
	lc, err := listenOptions(opts)
	if err != nil {
		return nil, err
	}
	lc.tls = e.handshakeConfig(lc.tls)
	fds := make([]int, 0, len(files))
	closeAll := func() {
		for _, fd := range fds {
			closeFd(fd)
		}
	}
	var addr net.Addr
	reusePort := true
	for _, f := range files {
		fd, a, rp, err := adoptFile(f)
		if err != nil {
			closeAll()
			return nil, err
		}
		fds = append(fds, fd)
		if addr == nil {
			addr = a
		} else if a.Network() != addr.Network() || a.String() != addr.String() {
			closeAll()
			return nil, fmt.Errorf("%w: %s is bound to %s, %s to %s", ErrNotListener,
				files[0].Name(), addr, f.Name(), a)
		}
		reusePort = reusePort && rp
	}
	isUnix := addr.Network() == "unix"

	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		closeAll()
		return nil, ErrEngineStopped
	}
	l := &listener{e: e, addr: addr, isUnix: isUnix, lc: lc}
	perShard := e.acceptsOnShards(isUnix)
	if !perShard {
		if err := e.startAcceptLoop(); err != nil {
			e.mu.Unlock()
			closeAll()
			return nil, err
		}
	}
	acceptLoop := e.acceptLoop
	e.mu.Unlock()

	if perShard && reusePort {
		for len(fds) < len(e.shards) {
			fd, _, err := listenSocket(tcpNetwork(addr), addr.String(), true)
			if err != nil {
				closeAll()
				return nil, err
			}
			fds = append(fds, fd)
		}
	}
	// As in Listen, the sockets are watched without e.mu, and a shard
	// calling ListenFiles waits for no other shard's loop.
	onLoop := e.onLoop()
	for i, fd := range fds {
		a := &acceptor{l: l, fd: fd, shard: -1, spare: -1, loop: acceptLoop}
		if perShard {
			a.shard = i % len(e.shards)
			a.loop = e.shards[a.shard].loop
		}
		var err error
		if a.spare, err = openSpare(); err != nil {
			for _, rest := range fds[i:] {
				closeFd(rest)
			}
			l.closeSoon()
			return nil, err
		}
		if err := l.start(a, onLoop); err != nil {
			for _, rest := range fds[i+1:] {
				closeFd(rest)
			}
			return nil, err
		}
	}
	if err := l.publish(); err != nil {
		return nil, err
	}
	return l.addr, nil
}

// ListenerFiles returns a duplicate of every listening socket the engine
// serves, each as an *os.File named for its address, network first
// ("tcp://127.0.0.1:7000", "unix:///run/x.sock"): the names ListenFiles'
// callers group the files by. A reuse-port listener gives all its N
// sockets, under one name; hand over all of them, since a socket closed
// for good drops the connections in its accept queue. The caller closes
// the files.
//
// Once its files are out, a unix listener's path is no longer removed by
// Unlisten or Stop: the process the files go to serves it now. The engine
// keeps accepting until the caller calls Unlisten or Stop. It returns
// ErrEngineStopped after Stop. Any goroutine.
func (e *Engine) ListenerFiles() ([]*os.File, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return nil, ErrEngineStopped
	}
	var out []*os.File
	for _, l := range e.listeners {
		name := l.addr.Network() + "://" + l.addr.String()
		for _, a := range l.acceptors {
			fd, err := dupFd(uintptr(a.fd))
			if err != nil {
				for _, f := range out {
					f.Close()
				}
				return nil, err
			}
			out = append(out, os.NewFile(uintptr(fd), name))
		}
		// A listener leaves e.listeners under e.mu before it closes, so
		// close reads this after the write.
		l.unlink = ""
	}
	return out, nil
}

// adoptFile duplicates f's fd for the engine, checks that it is a
// listening stream socket and makes it non-blocking. It returns the fd,
// the address it is bound to, and whether SO_REUSEPORT is set. The fd is
// taken through SyscallConn, not Fd, which would switch f to blocking
// mode for good.
func adoptFile(f *os.File) (fd int, addr net.Addr, reusePort bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, nil, false, fmt.Errorf("%w: %s: %v", ErrNotListener, f.Name(), err)
	}
	fd = -1
	var derr error
	if err := rc.Control(func(raw uintptr) { fd, derr = dupFd(raw) }); err != nil {
		return -1, nil, false, fmt.Errorf("%w: %s: %v", ErrNotListener, f.Name(), err)
	}
	if derr != nil {
		return -1, nil, false, derr
	}
	addr, reusePort, err = listeningSocket(fd)
	if err == nil {
		err = setNonblock(fd)
	}
	if err != nil {
		closeFd(fd)
		return -1, nil, false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return fd, addr, reusePort, nil
}

// tcpNetwork is the network that binds addr's family alone: "tcp6" binds
// an IPv6 address without changing what the adopted socket covers.
func tcpNetwork(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.To4() == nil {
		return "tcp6"
	}
	return "tcp4"
}
