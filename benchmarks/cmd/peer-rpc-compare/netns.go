package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// nsPrefix starts the name of every namespace this command makes; the
// driver's PID follows it, so a later run can tell a dead driver's
// namespaces from a live one's.
const nsPrefix = "rpccmp-"

// The pair's addresses: only on its veths, inside its namespaces.
const (
	serverHost = "10.221.0.1"
	clientHost = "10.221.0.2"
	serverDev  = "rpcs"
	clientDev  = "rpcc"
)

// errNetns wraps every failure to build the two-host emulation.
var errNetns = errors.New("peer-rpc-compare: netns")

// netPair emulates two hosts on one machine: the server's and the client's
// network namespaces joined by a veth pair, with each veth's receive
// processing steered by RPS to its side's CPU (the server's to CPU 0, the
// client's to CPU 1). A veth delivers a packet by queueing it to the
// receiving device's backlog; without RPS that backlog is the sending
// CPU's, as on loopback, and the sender's CPU would run the receiver's TCP
// input. With RPS each side's CPU does its own receive work, as a NIC per
// host would have it.
type netPair struct {
	server, client string // namespace names
}

// newNetPair makes the namespaces, the veth pair, its addresses and the
// RPS masks, tagged with pid. On any failure it removes what it made. It
// first removes the pairs of drivers that are no longer running.
func newNetPair(pid int) (p *netPair, err error) {
	removeStalePairs()
	p = &netPair{
		server: fmt.Sprintf("%s%d-srv", nsPrefix, pid),
		client: fmt.Sprintf("%s%d-cli", nsPrefix, pid),
	}
	defer func() {
		if err != nil {
			p.close()
			p = nil
		}
	}()
	steps := [][]string{
		{"ip", "netns", "add", p.server},
		{"ip", "netns", "add", p.client},
		{"ip", "link", "add", serverDev, "netns", p.server, "type", "veth", "peer", "name", clientDev, "netns", p.client},
		{"ip", "-n", p.server, "addr", "add", serverHost + "/24", "dev", serverDev},
		{"ip", "-n", p.client, "addr", "add", clientHost + "/24", "dev", clientDev},
		{"ip", "-n", p.server, "link", "set", "lo", "up"},
		{"ip", "-n", p.client, "link", "set", "lo", "up"},
		{"ip", "-n", p.server, "link", "set", serverDev, "up"},
		{"ip", "-n", p.client, "link", "set", clientDev, "up"},
	}
	for _, s := range steps {
		if err := runCmd(s...); err != nil {
			return p, err
		}
	}
	if err := p.steer(p.server, serverDev, 0); err != nil {
		return p, err
	}
	if err := p.steer(p.client, clientDev, 1); err != nil {
		return p, err
	}
	return p, nil
}

// steer sets dev's RPS mask in ns to cpu alone and reads it back. sysfs
// shows a namespace's devices only when mounted in it, which "ip netns
// exec" does.
func (p *netPair) steer(ns, dev string, cpu int) error {
	path := fmt.Sprintf("/sys/class/net/%s/queues/rx-0/rps_cpus", dev)
	mask := strconv.FormatUint(1<<cpu, 16)
	if err := runCmd("ip", "netns", "exec", ns, "sh", "-c", "echo "+mask+" > "+path); err != nil {
		return err
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", path).Output()
	if err != nil {
		return fmt.Errorf("%w: read %s in %s: %v", errNetns, path, ns, err)
	}
	if got, _ := strconv.ParseUint(strings.TrimSpace(strings.ReplaceAll(string(out), ",", "")), 16, 64); got != 1<<cpu {
		return fmt.Errorf("%w: %s in %s reads %q after writing %s", errNetns, path, ns, strings.TrimSpace(string(out)), mask)
	}
	return nil
}

// wrap returns argv run in the server's (server true) or the client's
// namespace. "ip netns exec" execs argv in place, so the PID started is
// argv's own.
func (p *netPair) wrap(server bool, argv []string) []string {
	ns := p.client
	if server {
		ns = p.server
	}
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// close kills whatever still runs in the namespaces and deletes them,
// which takes the veth pair with them. It is safe on a half-built pair.
func (p *netPair) close() {
	for _, ns := range []string{p.server, p.client} {
		killNS(ns)
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// removeStalePairs deletes the namespaces of drivers that have exited
// without their cleanup (killed, or ended by a panic in a goroutine).
func removeStalePairs() {
	for _, ns := range listNS() {
		rest, ok := strings.CutPrefix(ns, nsPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		killNS(ns)
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// listNS returns the names of the named network namespaces.
func listNS() []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// killNS kills whatever runs in ns.
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

func runCmd(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s: %v: %s", errNetns, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// withNetns adds to all a PEER@netns for each peer, run in pair, and
// returns the peers and subjects to run: each peer in the namespaces
// (-netns on), or both ways, every loopback run of a round first (-netns
// both).
func withNetns(cfg config, all map[string]peer, pair *netPair) (peers, subjects []string) {
	for _, name := range cfg.peers {
		p := all[name]
		p.name = name + netnsSuffix
		p.wrap = pair.wrap
		all[p.name] = p
	}
	add := func(names []string) []string {
		out := slices.Clone(names)
		if cfg.netns == "on" {
			out = out[:0]
		}
		for _, n := range names {
			out = append(out, n+netnsSuffix)
		}
		return out
	}
	return add(cfg.peers), add(cfg.subjects)
}

// stopOnSignal removes the namespaces and ends the driver on SIGINT or
// SIGTERM (the servers running in them are killed with them).
func stopOnSignal(pair *netPair) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		pair.close()
		fmt.Fprintf(os.Stderr, "peer-rpc-compare: %v: namespaces removed\n", sig)
		os.Exit(1)
	}()
}

// method says how a peer's run was set up: "" (loopback) or netnsSuffix.
func method(name string) string {
	if strings.HasSuffix(name, netnsSuffix) {
		return netnsSuffix
	}
	return ""
}
