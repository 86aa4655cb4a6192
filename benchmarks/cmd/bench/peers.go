package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The servers a run measures: the Go peers, shardnet, the C limit (when
// gcc is there) and any extra shardnet builds named on the command line,
// so that two builds of shardnet are compared with the same paired method
// as shardnet and its peers.

// cPeer is the one-thread C epoll server (c/peer.c): the one-core limit
// of the epoll interface, in every pinned echo and HTTP table.
const cPeer = "c"

// extraBuild is another shardnet build measured as a peer of its own:
// its peer-shardnet (echo, HTTP, latency, idle and unpinned cells) and its
// shardnet CLI (the proxy and kv cells); either may be missing.
type extraBuild struct {
	name string
	peer string // path of its peer-shardnet binary, or ""
	cli  string // path of its shardnet binary, or ""
	rev  string // git revision to build it from (-extra-rev), or ""
	// std maps a standard stack ("nethttp", "grpc") to the build's
	// peer-STACK, run with -over shardnet in the standard-stack suites.
	std map[string]string
}

var peerName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// parseExtra reads NAME=VALUE and checks that NAME is free.
func parseExtra(flagName, v string, taken []string) (name, value string, err error) {
	name, value, ok := strings.Cut(v, "=")
	switch {
	case !ok || value == "":
		return "", "", fmt.Errorf("%s %q: want NAME=VALUE", flagName, v)
	case !peerName.MatchString(name):
		return "", "", fmt.Errorf("%s %q: NAME must be lower-case letters, digits and _ (it names a peer in the tables)", flagName, v)
	case slices.Contains(taken, name) || slices.Contains(reservedNames, name):
		return "", "", fmt.Errorf("%s %q: the name %s is taken", flagName, v, name)
	}
	return name, value, nil
}

// reservedNames are the peers and proxy variants a build cannot be called.
var reservedNames = []string{"net", "gnet", "netpoll", "nbio", "shardnet", cPeer, "direct", "haproxy", "redis"}

// extraFromPath is -extra-peer NAME=PATH: PATH is a directory holding
// peer-shardnet and/or shardnet, or one binary (one named shardnet is the
// CLI, any other a peer-shardnet).
func extraFromPath(name, path string) (extraBuild, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return extraBuild{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return extraBuild{}, fmt.Errorf("-extra-peer %s: %w", name, err)
	}
	e := extraBuild{name: name, std: map[string]string{}}
	if st.IsDir() {
		for _, f := range []struct {
			file string
			dst  *string
		}{{"peer-shardnet", &e.peer}, {"shardnet", &e.cli}} {
			if _, err := os.Stat(filepath.Join(abs, f.file)); err == nil {
				*f.dst = filepath.Join(abs, f.file)
			}
		}
		for _, stack := range stdStacks {
			if f := filepath.Join(abs, "peer-"+stack); fileExists(f) {
				e.std[stack] = f
			}
		}
		if e.peer == "" && e.cli == "" && len(e.std) == 0 {
			return e, fmt.Errorf("-extra-peer %s: %s holds none of peer-shardnet, shardnet, peer-nethttp, peer-grpc", name, abs)
		}
	} else if filepath.Base(abs) == "shardnet" {
		e.cli = abs
	} else if stack, ok := strings.CutPrefix(filepath.Base(abs), "peer-"); ok && slices.Contains(stdStacks, stack) {
		e.std[stack] = abs
	} else {
		e.peer = abs
	}
	return e, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// buildExtraRev builds peer-shardnet and shardnet of a git revision into
// bin/extra-NAME, from a `git archive` of it (no worktree is made).
func buildExtraRev(bin string, e *extraBuild) error {
	src, err := os.MkdirTemp("", "bench-rev-"+e.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	archive := exec.Command("git", "archive", "--format=tar", e.rev)
	archive.Dir = ".."
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	archive.Stderr, untar.Stderr = os.Stderr, os.Stderr
	if err := untar.Start(); err != nil {
		return err
	}
	if err := archive.Run(); err != nil {
		return fmt.Errorf("git archive %s: %w", e.rev, err)
	}
	if err := untar.Wait(); err != nil {
		return fmt.Errorf("untar %s: %w", e.rev, err)
	}
	dir := filepath.Join(bin, "extra-"+e.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	e.peer, e.cli = filepath.Join(dir, "peer-shardnet"), filepath.Join(dir, "shardnet")
	steps := [][]string{
		{filepath.Join(src, "benchmarks"), "go", "build", "-o", e.peer, "./cmd/peer-shardnet"},
		{src, "go", "build", "-o", e.cli, "./tools/shardnet"},
	}
	e.std = map[string]string{}
	for _, stack := range stdStacks { // only in revisions that have them
		if fileExists(filepath.Join(src, "benchmarks", "cmd", "peer-"+stack)) {
			e.std[stack] = filepath.Join(dir, "peer-"+stack)
			steps = append(steps, []string{filepath.Join(src, "benchmarks"), "go", "build", "-o", e.std[stack], "./cmd/peer-" + stack})
		}
	}
	for _, s := range steps {
		cmd := exec.Command(s[1], s[2:]...)
		cmd.Dir = s[0]
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("-extra-rev %s=%s: %s: %w", e.name, e.rev, strings.Join(s[1:], " "), err)
		}
	}
	return nil
}

// buildC compiles the C server and httpload with gcc -O2; it returns
// false (and says why) when gcc is missing.
func buildC(bin string) (bool, error) {
	if _, err := exec.LookPath("gcc"); err != nil {
		fmt.Println("bench: gcc not installed: no C server column, no fixed-rate HTTP cells")
		return false, nil
	}
	for _, s := range [][]string{
		{"gcc", "-O2", "-Wall", "-o", filepath.Join(bin, "peer-c"), "c/peer.c", "c/udp.c", "c/rpc.c"},
		{"gcc", "-O2", "-Wall", "-o", filepath.Join(bin, "httpload"), "c/httpload.c"},
	} {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return false, fmt.Errorf("%s: %w", strings.Join(s, " "), err)
		}
	}
	return true, nil
}

// peerSelection is -peers: the servers to run (empty: all). A proxy
// variant NAME-splice runs when NAME is selected.
type peerSelection map[string]bool

func (sel peerSelection) keep(p string) bool {
	if len(sel) == 0 {
		return true
	}
	return sel[p] || sel[strings.TrimSuffix(p, "-splice")]
}

func (sel peerSelection) filter(ps []string) []string {
	return slices.DeleteFunc(slices.Clone(ps), func(p string) bool { return !sel.keep(p) })
}

// describe says what an extra build is, for the method section.
func (e extraBuild) describe() string {
	var parts []string
	if e.rev != "" {
		parts = append(parts, "built from "+e.rev)
	}
	if e.peer != "" {
		parts = append(parts, "peer-shardnet "+e.peer)
	}
	if e.cli != "" {
		parts = append(parts, "shardnet "+e.cli)
	}
	for _, stack := range stdStacks {
		if p, ok := e.std[stack]; ok {
			parts = append(parts, "peer-"+stack+" "+p)
		}
	}
	return e.name + ": " + strings.Join(parts, ", ")
}
