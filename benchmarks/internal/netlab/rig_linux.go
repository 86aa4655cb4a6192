package netlab

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Rig is the lab with everything running: HAProxy, and an http and an echo
// server in every backend namespace.
type Rig struct {
	*Lab
	Bin     string // the shardnet binary
	HAProxy *HAProxy
	HTTP    [Backends + 1]*Backend // index 1..Backends
	Echo    [Backends + 1]*Backend
}

// Drain is the backends' -drain-timeout: longer than any load, so an old
// echo process keeps its connections until the client closes them.
const Drain = 90 * time.Second

// NewRig makes the lab and starts HAProxy and the six servers, and waits
// until HAProxy sees every server up. On error the lab is closed.
func NewRig(bin string) (*Rig, error) {
	l, err := NewLab()
	if err != nil {
		return nil, err
	}
	r := &Rig{Lab: l, Bin: bin}
	if err := r.start(); err != nil {
		l.Close()
		return nil, err
	}
	return r, nil
}

func (r *Rig) start() error {
	for i := 1; i <= Backends; i++ {
		var err error
		if r.HTTP[i], err = r.StartBackend(r.Bin, "http", i, Drain); err != nil {
			return err
		}
		if r.Echo[i], err = r.StartBackend(r.Bin, "echo", i, Drain); err != nil {
			return err
		}
	}
	h, err := r.StartHAProxy()
	if err != nil {
		return err
	}
	r.HAProxy = h
	return r.WaitAllUp(20 * time.Second)
}

// WaitAllUp waits until HAProxy has every server of both backends up.
func (r *Rig) WaitAllUp(d time.Duration) error {
	for _, be := range []string{"http", "echo"} {
		for i := 1; i <= Backends; i++ {
			if _, err := r.HAProxy.WaitStatus(be, fmt.Sprintf("b%d", i), "UP", d); err != nil {
				return err
			}
		}
	}
	return nil
}

// backends is the kind's servers.
func (r *Rig) backends(kind string) [Backends + 1]*Backend {
	if kind == "echo" {
		return r.Echo
	}
	return r.HTTP
}

// StatusWatch records every status HAProxy showed for each server of a
// backend while it ran: a hand-over that made a check fail shows up as
// "UP 1/2" or worse.
type StatusWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	seen map[string]map[string]bool // server -> statuses; guarded by mu
}

// Watch polls HAProxy's status of backend's servers every 20 ms until
// Stop.
func (r *Rig) Watch(backend string) *StatusWatch {
	w := &StatusWatch{stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]map[string]bool{}}
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if all, err := r.HAProxy.Stats(); err == nil {
				w.mu.Lock()
				for _, s := range all {
					if s.Backend != backend {
						continue
					}
					if w.seen[s.Server] == nil {
						w.seen[s.Server] = map[string]bool{}
					}
					w.seen[s.Server][s.Status] = true
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Stop ends the watch and returns the statuses other than "UP" that each
// server showed, as "b2: UP 1/2, DOWN"; empty when all stayed up.
func (w *StatusWatch) Stop() string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for sv, st := range w.seen {
		var bad []string
		for s := range st {
			if s != "UP" {
				bad = append(bad, s)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			out = append(out, sv+": "+strings.Join(bad, ", "))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
