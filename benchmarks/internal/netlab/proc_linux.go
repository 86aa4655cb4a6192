package netlab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a program the lab started in one of its namespaces. What it
// prints (standard output and error, merged) is kept.
type Proc struct {
	Name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	out   bytes.Buffer  // guarded by mu
	grew  chan struct{} // closed and replaced when out grows; guarded by mu
	done  chan struct{} // closed when the process was reaped and its output read
	eof   chan struct{} // closed when the output pipe closed
	err   error         // its exit, once done is closed
	start time.Time
}

// Start runs args in namespace ns ("ip netns exec" execs it, so the pid is
// the program's). The program is killed if the lab's process dies first,
// and by Close.
func (l *Lab) Start(name, ns string, args ...string) (*Proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &Proc{Name: name, cmd: cmd, grew: make(chan struct{}), done: make(chan struct{}), eof: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	p.start = time.Now()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go p.collect(pr)
	return p, nil
}

// collect keeps the output until the pipe closes, and reaps the process.
// The process counts as done once it exited and its output was read to
// the end; a child that inherited the pipe and keeps it open is waited
// for only a little.
func (p *Proc) collect(r io.ReadCloser) {
	go func() {
		p.err = p.cmd.Wait()
		select {
		case <-p.eof:
		case <-time.After(2 * time.Second):
		}
		close(p.done)
	}()
	defer close(p.eof)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.out.Write(buf[:n])
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
		}
		if err != nil {
			r.Close()
			return
		}
	}
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Output is everything printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitFor waits until the output matches re and returns the match's
// submatches; it fails if the process exits first or d passes.
func (p *Proc) WaitFor(re *regexp.Regexp, d time.Duration) ([]string, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		m := re.FindStringSubmatch(p.out.String())
		grew := p.grew
		p.mu.Unlock()
		if m != nil {
			return m, nil
		}
		select {
		case <-grew:
		case <-p.done:
			if m := re.FindStringSubmatch(p.Output()); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, re, p.Output())
		case <-deadline.C:
			return nil, fmt.Errorf("%s printed no %q in %v:\n%s", p.Name, re, d, p.Output())
		}
	}
}

// Wait waits up to d for the process to exit and returns its exit error.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still runs after %v", p.Name, d)
	}
}

// Exited says whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process, if it still runs.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("%s has exited", p.Name)
	}
	return p.cmd.Process.Signal(sig)
}

// Kill kills the process (continuing it first, in case it was stopped)
// and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.Wait(10 * time.Second)
}

// RSS is the process's resident set in bytes, from /proc.
func (p *Proc) RSS() (int64, error) {
	return rssOf(p.Pid())
}

func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}
