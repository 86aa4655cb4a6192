//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/handover"
	"golang.org/x/sys/unix"
)

// A restart that refuses no connection. The old process hands its
// listening sockets to the new one, on SIGUSR2 by re-executing itself
// with them as inherited fds, or to a new process started with the same
// -upgrade-sock PATH over that unix socket (SCM_RIGHTS). Then:
//
//	new                                  old
//	adopts the sockets, accepts
//	"ready <pid>"  ------------------->  stops accepting (its copies close;
//	                                     the sockets live on in the new
//	                                     one), frees -metrics, -debug and
//	                                     -upgrade-sock
//	               <-------------------  "done"
//	binds -metrics, -debug,              drains: lets its connections end
//	-upgrade-sock                        (HTTP: answers with Connection:
//	                                     close) for up to -drain-timeout,
//	                                     then stops and exits
//
// Both accept for that moment, so no connection waits or is refused; a
// connection in a socket's accept queue is taken by whichever accepts it.

// envUpgradeFD names the fd of the re-exec'd child's end of the socket
// pair it says "ready" on. Like handover's variables it holds no pid:
// the parent cannot know its child's before starting it.
const envUpgradeFD = "SHARDNET_UPGRADE_FD"

// upgradeWait bounds how long either side waits for the other's word: a
// new process that takes longer to start is given up on, and the old one
// serves on.
const upgradeWait = 30 * time.Second

// upgrader is one server process's part in restarts: what it took over
// at start, and the requests to hand over that arrive while it serves.
// Its methods run on serve's goroutine, except the accept loop.
type upgrader struct {
	name   string
	path   string // -upgrade-sock, or ""
	stdout io.Writer

	inherited []*os.File         // the sockets taken over at start
	source    string             // who passed them: systemd, parent, upgrade-sock
	prev      *net.UnixConn      // to the old process, until "done"
	usr2      chan os.Signal     // SIGUSR2: re-exec
	peers     chan *net.UnixConn // new processes that dialled -upgrade-sock
	ln        *net.UnixListener  // -upgrade-sock, once we serve it
	quit      chan struct{}      // closed by close: acceptPeers stops handing on
	took      int                // how many sockets were taken over
	frees     []func()           // stop what the new process binds next (-metrics, -debug)
}

// newUpgrader takes over the sockets this process was given, by
// environment (systemd's or our re-exec's) or, with -upgrade-sock, from
// a process serving that socket; and starts listening for SIGUSR2.
func newUpgrader(name, path string, stdout io.Writer) (*upgrader, error) {
	u := &upgrader{name: name, path: path, stdout: stdout,
		usr2: make(chan os.Signal, 1), peers: make(chan *net.UnixConn), quit: make(chan struct{})}
	signal.Notify(u.usr2, syscall.SIGUSR2)
	files, src, err := handover.Inherited()
	if err != nil {
		u.close()
		return nil, err
	}
	u.inherited, u.source = files, src.String()
	if v, ok := os.LookupEnv(envUpgradeFD); ok {
		os.Unsetenv(envUpgradeFD)
		fd, err := strconv.Atoi(v)
		if err != nil || fd < handover.FirstFD {
			u.close()
			return nil, fmt.Errorf("%s=%q: want an fd number", envUpgradeFD, v)
		}
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "upgrade")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			u.close()
			return nil, fmt.Errorf("%s: %w", envUpgradeFD, err)
		}
		u.prev = c.(*net.UnixConn)
		return u, nil
	}
	if path == "" {
		return u, nil
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		// Nobody serves it: we are the first (or the last one died).
		return u, nil
	}
	c.SetDeadline(time.Now().Add(upgradeWait))
	got, err := handover.Receive(c)
	if err != nil {
		c.Close()
		u.close()
		return nil, fmt.Errorf("-upgrade-sock %s: %w", path, err)
	}
	closeFiles(u.inherited)
	u.inherited, u.source, u.prev = got, "upgrade-sock", c
	return u, nil
}

// listen serves the inherited sockets, grouped by the address they are
// bound to (the N reuse-port sockets of one address make one listener),
// and then each address of addrs no inherited socket serves. Without
// inherited sockets that is all of addrs. The inherited files are closed:
// the engine holds its own duplicates.
func (u *upgrader) listen(e *engine.Engine, addrs []string, explicit bool, lopts ...engine.ListenOption) error {
	u.took = len(u.inherited)
	defer func() { closeFiles(u.inherited); u.inherited = nil }()
	var order []string
	groups := map[string][]*os.File{}
	for _, f := range u.inherited {
		key, err := boundAddr(f)
		if err != nil {
			return fmt.Errorf("inherited socket %q: %w", f.Name(), err)
		}
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], f)
	}
	served := map[string]bool{}
	for _, key := range order {
		a, err := e.ListenFiles(groups[key], lopts...)
		if err != nil {
			return fmt.Errorf("inherited socket %s: %w", key, err)
		}
		served[a.Network()+"://"+a.String()] = true
	}
	if len(order) > 0 && !explicit {
		return nil // the inherited sockets replace the default address
	}
	for _, a := range addrs {
		key := addrKey(a)
		// A port-0 address asked for "any port", which the inherited
		// socket of a restart is; binding another would split clients.
		if served[key] || (len(order) > 0 && strings.HasSuffix(key, ":0")) {
			continue
		}
		if _, err := e.Listen(a, lopts...); err != nil {
			return err
		}
	}
	return nil
}

// boundAddr is the address f's socket is bound to, as "tcp://host:port"
// or "unix://path".
func boundAddr(f *os.File) (string, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // not ours to remove
	}
	return ln.Addr().Network() + "://" + ln.Addr().String(), nil
}

// addrKey is an -addr value in boundAddr's form, so that an inherited
// socket is recognised as the one an -addr asks for.
func addrKey(a string) string {
	network, address, ok := strings.Cut(a, "://")
	if !ok {
		network, address = "tcp", a
	}
	if network == "unix" {
		return "unix://" + address
	}
	ta, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return a
	}
	return "tcp://" + ta.String()
}

// tookOver says, after the start-up line, where the sockets came from,
// and completes the hand-over with the old process: "ready", then wait
// for its "done" (it no longer accepts and has freed what we bind next).
// Then it starts serving -upgrade-sock.
func (u *upgrader) tookOver() error {
	if u.took > 0 {
		fmt.Fprintf(u.stdout, "shardnet %s: took over %d listening socket(s) from %s (pid %d)\n", u.name, u.took, u.source, os.Getpid())
	}
	if u.prev != nil {
		c := u.prev
		u.prev = nil
		c.SetDeadline(time.Now().Add(upgradeWait))
		if _, err := c.Write([]byte("ready " + strconv.Itoa(os.Getpid()))); err != nil {
			fmt.Fprintf(u.stdout, "shardnet %s: telling the old process: %v\n", u.name, err)
		} else {
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "done" {
				// It died or hung: it accepts no more either way, and
				// what it held is freed by its exit.
				fmt.Fprintf(u.stdout, "shardnet %s: the old process did not confirm (%q, %v)\n", u.name, buf[:n], err)
			}
		}
		c.Close()
	}
	if u.path == "" {
		return nil
	}
	ln, err := listenUpgradeSock(u.path)
	if err != nil {
		return fmt.Errorf("-upgrade-sock: %w", err)
	}
	u.ln = ln
	go u.acceptPeers(ln)
	return nil
}

// listenUpgradeSock serves path, replacing a stale socket file nobody
// answers on (left by a process that was killed).
func listenUpgradeSock(path string) (*net.UnixListener, error) {
	addr := &net.UnixAddr{Name: path, Net: "unixpacket"}
	ln, err := net.ListenUnix("unixpacket", addr)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	if c, derr := net.DialUnix("unixpacket", nil, addr); derr == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another process serves it", path)
	}
	os.Remove(path)
	return net.ListenUnix("unixpacket", addr)
}

// acceptPeers hands each connection on -upgrade-sock to serve's loop,
// until the listener closes.
func (u *upgrader) acceptPeers(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		select {
		case u.peers <- c:
		case <-u.quit:
			c.Close()
			return
		}
	}
}

// handOver gives e's listening sockets to a new process: one dialled in
// on -upgrade-sock (peer), or, with peer nil, a re-exec of this program.
// It waits for the new process's "ready" and returns the connection to
// say "done" on, and the new process's pid; on failure the new process
// gets nothing more and this one serves on.
func (u *upgrader) handOver(e *engine.Engine, peer *net.UnixConn) (*net.UnixConn, string, error) {
	files, err := e.ListenerFiles()
	if err != nil {
		if peer != nil {
			peer.Close()
		}
		return nil, "", err
	}
	defer closeFiles(files)
	c, exited := peer, (<-chan error)(nil)
	if peer == nil {
		c, exited, err = reexec(files)
	} else {
		peer.SetDeadline(time.Now().Add(upgradeWait))
		err = handover.Send(peer, files)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, "", err
	}
	c.SetDeadline(time.Now().Add(upgradeWait))
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			n = 0
		}
		got <- string(buf[:n])
	}()
	var msg string
	select {
	case msg = <-got:
	case err := <-exited:
		c.Close()
		<-got
		return nil, "", fmt.Errorf("the new process exited before it was ready: %v", err)
	}
	pid, ok := strings.CutPrefix(msg, "ready ")
	if !ok {
		c.Close()
		return nil, "", fmt.Errorf("the new process did not get ready (%q)", msg)
	}
	return c, pid, nil
}

// reexec starts this program again with the same arguments and the
// listening sockets as fds 3..., and one end of a socket pair after them
// for the "ready"/"done" exchange. Its standard output and error are
// ours. exited delivers the child's exit if it comes first; the child
// usually outlives us, and is then reaped by whoever adopts it.
func reexec(files []*os.File) (*net.UnixConn, <-chan error, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "upgrade"), os.NewFile(uintptr(fds[1]), "upgrade")
	defer theirs.Close()
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(handover.CleanEnv(os.Environ()), handover.ExecEnv(names)...)
	cmd.Env = append(cmd.Env, envUpgradeFD+"="+strconv.Itoa(handover.FirstFD+len(files)))
	cmd.ExtraFiles = append(append([]*os.File(nil), files...), theirs)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		c.Close()
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return c.(*net.UnixConn), exited, nil
}

// finish tells the new process, after this one stopped accepting and
// freed its other ports, that it may bind them: "done".
func (u *upgrader) finish(c *net.UnixConn) {
	for _, free := range u.frees {
		free()
	}
	if u.ln != nil {
		u.ln.Close() // removes the path, for the new process to bind
		u.ln = nil
	}
	c.Write([]byte("done"))
	c.Close()
}

// close stops listening for SIGUSR2 and on -upgrade-sock and closes what
// was taken over and not served.
func (u *upgrader) close() {
	signal.Stop(u.usr2)
	select {
	case <-u.quit:
	default:
		close(u.quit)
	}
	if u.ln != nil {
		u.ln.Close()
		u.ln = nil
	}
	if u.prev != nil {
		u.prev.Close()
		u.prev = nil
	}
	closeFiles(u.inherited)
	u.inherited = nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// waitConns waits until e has no connection left or ctx ends.
func waitConns(ctx context.Context, e *engine.Engine) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for e.Conns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// restart hands e's listening sockets to a new process (peer, or a
// re-exec when peer is nil) and, once it accepts, stops accepting and
// drains: sf.beforeDrain runs (HTTP's Connection: close), then sf.drain
// or, without one, a wait for the connections to end, for up to
// sf.drainTimeout. It reports whether it handed over; if not, this
// process serves on.
func (u *upgrader) restart(e *engine.Engine, peer *net.UnixConn, sf *serverFlags) bool {
	c, pid, err := u.handOver(e, peer)
	if err != nil {
		fmt.Fprintf(u.stdout, "shardnet %s: upgrade failed, serving on: %v\n", u.name, err)
		return false
	}
	// The new process accepts on the same sockets: closing our copies
	// refuses nobody.
	for _, a := range e.Addrs() {
		_ = e.Unlisten(a)
	}
	u.finish(c)
	fmt.Fprintf(u.stdout, "shardnet %s: handed the listening sockets to pid %s; draining for up to %v\n", u.name, pid, sf.drainTimeout)
	if sf.beforeDrain != nil {
		sf.beforeDrain()
	}
	ctx, cancel := context.WithTimeout(context.Background(), sf.drainTimeout)
	defer cancel()
	drain := sf.drain
	if drain == nil {
		drain = func(ctx context.Context) error { return waitConns(ctx, e) }
	}
	if err := drain(ctx); err != nil {
		fmt.Fprintf(u.stdout, "shardnet %s: drain: %v; closing what is left\n", u.name, err)
	}
	return true
}
