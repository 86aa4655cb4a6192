package netlab

import (
	"fmt"
	"os"
	"regexp"
	"sync"
	"syscall"
	"time"
)

var (
	listeningRe = regexp.MustCompile(`listening on tcp://`)
	tookOverRe  = regexp.MustCompile(`took over (\d+) listening socket\(s\) from upgrade-sock`)
)

// startWait bounds how long a server may take to start: generous, for a
// race-detector build on a loaded machine.
const startWait = 30 * time.Second

// Backend is one shardnet server (http or echo) in backend namespace I,
// through its restarts.
type Backend struct {
	lab  *Lab
	Kind string // "http" or "echo"
	I    int
	args []string

	mu  sync.Mutex
	cur *Proc   // the process serving now; guarded by mu
	old []*Proc // processes that handed over and drain; guarded by mu
}

// StartBackend starts "shardnet KIND" in backend namespace i with one
// shard, -accept-proxy (HAProxy sends the PROXY protocol) and an
// -upgrade-sock for hand-overs; drain is the old process's
// -drain-timeout after one.
func (l *Lab) StartBackend(bin, kind string, i int, drain time.Duration) (*Backend, error) {
	port := BackHTTP
	if kind == "echo" {
		port = EchoPort
	}
	b := &Backend{lab: l, Kind: kind, I: i, args: []string{bin, kind,
		"-addr", fmt.Sprintf("%s:%d", BackendAddr(i), port), "-shards", "1", "-accept-proxy",
		"-upgrade-sock", fmt.Sprintf("%s/b%d-%s.sock", l.Dir, i, kind),
		"-drain-timeout", drain.String()}}
	p, err := b.start()
	if err != nil {
		return nil, err
	}
	b.cur = p
	return b, nil
}

func (b *Backend) start() (*Proc, error) {
	p, err := b.lab.Start(fmt.Sprintf("b%d-%s", b.I, b.Kind), b.lab.Backend[b.I], b.args...)
	if err != nil {
		return nil, err
	}
	if _, err := p.WaitFor(listeningRe, startWait); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Proc is the process serving now.
func (b *Backend) Proc() *Proc {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// Signal signals the serving process.
func (b *Backend) Signal(sig syscall.Signal) error { return b.Proc().Signal(sig) }

// Restart starts a fresh process after the serving one died (SIGKILL);
// it binds the port anew.
func (b *Backend) Restart() error {
	p, err := b.start()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.cur = p
	b.mu.Unlock()
	return nil
}

// HandOver starts a new process with the same -upgrade-sock: it takes the
// listening socket over from the serving one, which then stops accepting
// and drains. It returns once the new process said it took the socket;
// the old one's exit is WaitDrained's.
func (b *Backend) HandOver() error {
	p, err := b.lab.Start(fmt.Sprintf("b%d-%s", b.I, b.Kind), b.lab.Backend[b.I], b.args...)
	if err != nil {
		return err
	}
	if _, err := p.WaitFor(tookOverRe, startWait); err != nil {
		p.Kill()
		return err
	}
	b.mu.Lock()
	b.old = append(b.old, b.cur)
	b.cur = p
	b.mu.Unlock()
	return nil
}

// WaitDrained waits up to d for every process that handed over to exit,
// and fails if one exited with an error.
func (b *Backend) WaitDrained(d time.Duration) error {
	b.mu.Lock()
	old := b.old
	b.old = nil
	b.mu.Unlock()
	end := time.Now().Add(d)
	for _, p := range old {
		if err := p.Wait(time.Until(end)); err != nil {
			return fmt.Errorf("%s (pid %d) after its hand-over: %v\n%s", p.Name, p.Pid(), err, p.Output())
		}
	}
	return nil
}

// Stop ends the serving process with SIGTERM, or SIGKILL after d.
func (b *Backend) Stop(d time.Duration) {
	p := b.Proc()
	if p.Exited() {
		return
	}
	_ = p.Signal(syscall.SIGCONT)
	_ = p.Signal(syscall.SIGTERM)
	if p.Wait(d) != nil {
		p.Kill()
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
