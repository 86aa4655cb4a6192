package handover

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The environment variables Inherited reads and unsets.
const (
	// EnvListenFDs is systemd's count of the sockets passed from fd 3.
	EnvListenFDs = "LISTEN_FDS"
	// EnvListenFDNames is systemd's colon-separated names of those
	// sockets.
	EnvListenFDNames = "LISTEN_FDNAMES"
	// EnvListenPID is the pid systemd meant the sockets for.
	EnvListenPID = "LISTEN_PID"
	// EnvInheritFDs is our own re-exec's count of the sockets passed from
	// fd 3.
	EnvInheritFDs = "SHARDNET_LISTEN_FDS"
	// EnvInheritFDNames is our own re-exec's names of those sockets, each
	// query-escaped (addresses hold colons), colon-separated.
	EnvInheritFDNames = "SHARDNET_LISTEN_FDNAMES"
)

// FirstFD is the fd of the first passed socket, after stdin, stdout and
// stderr.
const FirstFD = 3

// maxFDs bounds the count a variable may claim, well under any fd limit:
// a larger one is a corrupt variable, not a hand-over.
const maxFDs = 4096

// Errors.
var (
	// ErrBadEnv is returned when the variables are present but malformed:
	// a count that is not a number, names that do not match the count.
	ErrBadEnv = errors.New("handover: malformed socket-passing environment")

	// ErrProtocol is returned by Receive for a message that is not a
	// hand-over, or whose names and fds do not match.
	ErrProtocol = errors.New("handover: protocol error")

	// ErrUnsupported is returned off Unix, where fds cannot be passed.
	ErrUnsupported = errors.New("handover: unsupported platform")
)

// Source says who passed the sockets.
type Source int

// The sources of inherited sockets.
const (
	FromNone    Source = iota // nothing was inherited
	FromSystemd               // systemd socket activation (LISTEN_*)
	FromParent                // our own re-exec (SHARDNET_LISTEN_*)
)

// String names the source.
func (s Source) String() string {
	switch s {
	case FromSystemd:
		return "systemd"
	case FromParent:
		return "parent"
	}
	return "none"
}

// passed is what the environment says was passed: how many fds from
// FirstFD, with which names.
type passed struct {
	source Source
	names  []string
}

// parseEnv reads the variables through getenv for a process whose pid is
// pid. systemd's win when they are meant for us (LISTEN_PID is pid);
// LISTEN_* meant for another pid mean nothing was passed by systemd.
// Missing names are "" (systemd's own default is "unknown"; a caller
// should not rely on either).
func parseEnv(getenv func(string) string, pid int) (passed, error) {
	if n := getenv(EnvListenFDs); n != "" {
		p := getenv(EnvListenPID)
		if p != "" {
			want, err := strconv.Atoi(p)
			if err != nil {
				return passed{}, fmt.Errorf("%w: %s=%q", ErrBadEnv, EnvListenPID, p)
			}
			if want != pid {
				// For another process (we were started by one that
				// did not unset them): not ours.
				return parseOwn(getenv)
			}
		} else {
			return passed{}, fmt.Errorf("%w: %s without %s", ErrBadEnv, EnvListenFDs, EnvListenPID)
		}
		count, err := parseCount(EnvListenFDs, n)
		if err != nil {
			return passed{}, err
		}
		names := make([]string, count)
		if v := getenv(EnvListenFDNames); v != "" {
			parts := strings.Split(v, ":")
			if len(parts) != count {
				return passed{}, fmt.Errorf("%w: %s has %d names for %d fds", ErrBadEnv, EnvListenFDNames, len(parts), count)
			}
			copy(names, parts)
		}
		return passed{source: FromSystemd, names: names}, nil
	}
	return parseOwn(getenv)
}

// parseOwn reads our own re-exec's variables.
func parseOwn(getenv func(string) string) (passed, error) {
	n := getenv(EnvInheritFDs)
	if n == "" {
		return passed{}, nil
	}
	count, err := parseCount(EnvInheritFDs, n)
	if err != nil {
		return passed{}, err
	}
	if count == 0 {
		return passed{source: FromParent}, nil
	}
	parts := strings.Split(getenv(EnvInheritFDNames), ":")
	if len(parts) != count {
		return passed{}, fmt.Errorf("%w: %s has %d names for %d fds", ErrBadEnv, EnvInheritFDNames, len(parts), count)
	}
	names := make([]string, count)
	for i, p := range parts {
		if names[i], err = url.QueryUnescape(p); err != nil {
			return passed{}, fmt.Errorf("%w: %s: name %d: %v", ErrBadEnv, EnvInheritFDNames, i, err)
		}
	}
	return passed{source: FromParent, names: names}, nil
}

func parseCount(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxFDs {
		return 0, fmt.Errorf("%w: %s=%q (want 0..%d)", ErrBadEnv, name, v, maxFDs)
	}
	return n, nil
}

// ExecEnv returns the variables that tell a process started with names'
// sockets as its extra files (from FirstFD, in this order) that it
// inherits them: append them to the child's environment.
func ExecEnv(names []string) []string {
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = url.QueryEscape(n)
	}
	return []string{
		EnvInheritFDs + "=" + strconv.Itoa(len(names)),
		EnvInheritFDNames + "=" + strings.Join(esc, ":"),
	}
}

// CleanEnv returns env (KEY=VALUE entries, as os.Environ gives them)
// without the socket-passing variables, so a child started with it takes
// nothing for its own unless told with ExecEnv.
func CleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvListenFDs, EnvListenFDNames, EnvListenPID, EnvInheritFDs, EnvInheritFDNames:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// magic opens every hand-over message's payload, so that Receive knows it
// talks to a hand-over and not to some other service at the path.
const magic = "shardnet-handover/1"

// parsePayload reads one hand-over message that came with fds fds: the
// magic line, then one query-escaped name per fd. No names (and no fds)
// is the message that ends the list.
func parsePayload(b []byte, fds int) ([]string, error) {
	lines := strings.Split(string(b), "\n")
	if lines[0] != magic {
		return nil, fmt.Errorf("%w: not a hand-over message", ErrProtocol)
	}
	if len(lines)-1 != fds {
		return nil, fmt.Errorf("%w: %d names for %d fds", ErrProtocol, len(lines)-1, fds)
	}
	names := make([]string, 0, fds)
	for _, name := range lines[1:] {
		dec, err := url.QueryUnescape(name)
		if err != nil {
			return nil, fmt.Errorf("%w: name %q: %v", ErrProtocol, name, err)
		}
		names = append(names, dec)
	}
	return names, nil
}

// appendPayload is the payload of a message carrying names' fds.
func appendPayload(b []byte, names []string) []byte {
	b = append(b, magic...)
	for _, n := range names {
		b = append(b, '\n')
		b = append(b, url.QueryEscape(n)...)
	}
	return b
}
