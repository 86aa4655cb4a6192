package main

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/netlab"
)

// needNetns skips where namespaces cannot be made (not root, no ip(8)).
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) not installed")
	}
}

// ours lists the namespaces tagged with pid.
func ours(pid string) []string {
	return slices.DeleteFunc(listNS(), func(ns string) bool { return !strings.HasPrefix(ns, nsPrefix+pid+"-") })
}

// TestNetPair builds the two-host emulation and checks what the driver
// relies on: a TCP connection from the client's namespace reaches the
// server's address and carries bytes both ways; each veth's RPS mask names
// its side's CPU; a command run through wrap keeps its PID (the driver
// reads the server's counters by it); close removes both namespaces.
func TestNetPair(t *testing.T) {
	needNetns(t)
	pid := os.Getpid()
	p, err := newNetPair(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if got := ours(itoa(pid)); len(got) != 2 {
		t.Fatalf("namespaces %v, want the server's and the client's", got)
	}
	for _, c := range []struct{ ns, dev, want string }{{p.server, serverDev, "1"}, {p.client, clientDev, "2"}} {
		out, err := exec.Command("ip", "netns", "exec", c.ns, "cat", "/sys/class/net/"+c.dev+"/queues/rx-0/rps_cpus").Output()
		if err != nil || strings.TrimLeft(strings.TrimSpace(strings.ReplaceAll(string(out), ",", "")), "0") != c.want {
			t.Errorf("%s's rps_cpus in %s: %q, %v; want mask %s", c.dev, c.ns, out, err, c.want)
		}
	}

	var ln net.Listener
	if err := netlab.InNS(p.server, func() (err error) {
		ln, err = net.Listen("tcp", serverHost+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var c net.Conn
	if err := netlab.InNS(p.client, func() (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.LocalAddr().String(), clientHost+":") {
		t.Errorf("the client's address %v, want %s", c.LocalAddr(), clientHost)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("across the veth pair")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo %q, %v", got, err)
	}

	cmd := exec.Command("sh", "-c", "exec "+strings.Join(p.wrap(true, []string{"sleep", "5"}), " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	var comm string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/comm")
		if comm = strings.TrimSpace(string(b)); comm == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if comm != "sleep" {
		t.Errorf("the wrapped command's PID runs %q, want sleep itself", comm)
	}

	p.close()
	if got := ours(itoa(pid)); len(got) != 0 {
		t.Errorf("after close: %v left", got)
	}
}

// TestNetPairFailureCleansUp makes the second namespace's creation fail
// (its name is taken): newNetPair returns an error wrapping errNetns and
// leaves no namespace of its own behind.
func TestNetPairFailureCleansUp(t *testing.T) {
	needNetns(t)
	pid := os.Getpid()
	taken := nsPrefix + itoa(pid) + "-cli"
	if err := runCmd("ip", "netns", "add", taken); err != nil {
		t.Fatal(err)
	}
	defer exec.Command("ip", "netns", "del", taken).Run()
	p, err := newNetPair(pid)
	if err == nil {
		p.close()
		t.Fatal("newNetPair succeeded with the client's namespace name taken")
	}
	if !errors.Is(err, errNetns) {
		t.Errorf("error %v does not wrap errNetns", err)
	}
	if got := ours(itoa(pid)); len(got) != 0 {
		t.Errorf("after the failure: %v left", got)
	}
}

// TestRemoveStalePairs removes the namespaces of a driver that has exited
// and keeps those of one that runs.
func TestRemoveStalePairs(t *testing.T) {
	needNetns(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := nsPrefix + itoa(dead.Process.Pid) + "-srv"
	live := nsPrefix + itoa(os.Getpid()) + "-srv"
	for _, ns := range []string{stale, live} {
		if err := runCmd("ip", "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		defer exec.Command("ip", "netns", "del", ns).Run()
	}
	removeStalePairs()
	names := listNS()
	if slices.Contains(names, stale) {
		t.Errorf("%s (an exited driver's) was kept", stale)
	}
	if !slices.Contains(names, live) {
		t.Errorf("%s (a running driver's) was removed", live)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
