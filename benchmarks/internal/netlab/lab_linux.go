package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrUnavailable is returned by NewLab when this machine cannot build the
// lab: no root, no network namespaces, or a program it needs is missing.
var ErrUnavailable = errors.New("netlab: network namespaces unavailable")

// Backends is how many backend namespaces the lab has.
const Backends = 3

// nsPrefix starts every namespace name the lab makes; the pid that follows
// lets a later lab remove what a killed one left.
const nsPrefix = "sn19-"

// The addresses: only on the lab's veths, in namespaces it made.
const (
	ClientAddr   = "10.219.0.1"
	BalancerAddr = "10.219.0.2"
)

// BackendAddr is backend i's address (i from 1).
func BackendAddr(i int) string { return fmt.Sprintf("10.219.%d.2", i) }

// balancerSide is the balancer's address on backend i's link.
func balancerSide(i int) string { return fmt.Sprintf("10.219.%d.1", i) }

// The client link's device names, in the client and balancer namespaces.
const (
	ClientDev       = "cl0"
	BalancerDevToCl = "lbc0"
)

// Lab is the running network: its namespaces, a scratch directory for
// configurations and unix sockets, and the processes started in it.
type Lab struct {
	id       string
	Client   string // namespace names
	Balancer string
	Backend  [Backends + 1]string // index 1..Backends
	Dir      string

	mu    sync.Mutex
	procs []*Proc // guarded by mu
	nsAll []string
}

// Requirements are the programs NewLab and the scenarios run.
var requirements = []string{"ip", "iptables", "ethtool", "haproxy"}

// NewLab makes the namespaces, veths and addresses. It first removes the
// namespaces of labs whose process is gone. Errors that mean "not on this
// machine" wrap ErrUnavailable.
func NewLab() (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: needs root", ErrUnavailable)
	}
	for _, p := range requirements {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("%w: %s is not installed", ErrUnavailable, p)
		}
	}
	removeStale()
	dir, err := os.MkdirTemp("", "netlab")
	if err != nil {
		return nil, err
	}
	id := strconv.Itoa(os.Getpid())
	l := &Lab{id: id, Dir: dir,
		Client: nsPrefix + id + "-c", Balancer: nsPrefix + id + "-lb"}
	for i := 1; i <= Backends; i++ {
		l.Backend[i] = fmt.Sprintf("%s%s-b%d", nsPrefix, id, i)
	}
	if err := l.addNS(l.Client); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: ip netns add: %v", ErrUnavailable, err)
	}
	if err := l.build(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) addNS(name string) error {
	if err := run("ip", "netns", "add", name); err != nil {
		return err
	}
	l.nsAll = append(l.nsAll, name)
	return nil
}

// build makes the rest after the client namespace.
func (l *Lab) build() error {
	if err := l.addNS(l.Balancer); err != nil {
		return err
	}
	for i := 1; i <= Backends; i++ {
		if err := l.addNS(l.Backend[i]); err != nil {
			return err
		}
	}
	cmds := [][]string{
		{"ip", "link", "add", ClientDev, "netns", l.Client, "type", "veth", "peer", "name", BalancerDevToCl, "netns", l.Balancer},
		{"ip", "-n", l.Client, "addr", "add", ClientAddr + "/24", "dev", ClientDev},
		{"ip", "-n", l.Balancer, "addr", "add", BalancerAddr + "/24", "dev", BalancerDevToCl},
		{"ip", "-n", l.Client, "link", "set", ClientDev, "up"},
		{"ip", "-n", l.Balancer, "link", "set", BalancerDevToCl, "up"},
	}
	for _, ns := range l.nsAll {
		cmds = append(cmds, []string{"ip", "-n", ns, "link", "set", "lo", "up"})
	}
	for i := 1; i <= Backends; i++ {
		lbDev := fmt.Sprintf("lb%d", i)
		cmds = append(cmds,
			[]string{"ip", "link", "add", lbDev, "netns", l.Balancer, "type", "veth", "peer", "name", "be0", "netns", l.Backend[i]},
			[]string{"ip", "-n", l.Balancer, "addr", "add", balancerSide(i) + "/24", "dev", lbDev},
			[]string{"ip", "-n", l.Backend[i], "addr", "add", BackendAddr(i) + "/24", "dev", "be0"},
			[]string{"ip", "-n", l.Balancer, "link", "set", lbDev, "up"},
			[]string{"ip", "-n", l.Backend[i], "link", "set", "be0", "up"},
		)
	}
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every process the lab started (and any other left in its
// namespaces), deletes the namespaces, which takes their veths with them,
// and removes the scratch directory. It is safe to call more than once.
func (l *Lab) Close() {
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, ns := range l.nsAll {
		killNS(ns)
		_ = run("ip", "netns", "del", ns)
	}
	l.nsAll = nil
	if l.Dir != "" {
		os.RemoveAll(l.Dir)
	}
}

// killNS kills whatever still runs in the namespace (a re-executed server
// the lab did not start itself, say) and waits for it to go.
func killNS(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes the namespaces of labs whose process has exited
// (killed by a test timeout, say, before its cleanup ran).
func removeStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(f[0], nsPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil { // ESRCH: gone; EPERM cannot happen as root
			continue
		}
		killNS(f[0])
		_ = run("ip", "netns", "del", f[0])
	}
}

// Exec runs a command in namespace ns to completion and returns its
// output; a failure carries the output.
func (l *Lab) Exec(ns string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %v: %s", strings.Join(args, " "), ns, err, out)
	}
	return string(out), nil
}

// InNS runs fn on a thread that entered namespace ns: sockets made there
// belong to ns and stay in it after fn returns. If the thread cannot
// come back, it is not unlocked, and dies with fn's goroutine.
func InNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(self)
		target, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
