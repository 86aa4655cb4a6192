package handover

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run inheritedChild instead of the tests.
const childEnv = "HANDOVER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(inheritedChild())
	}
	os.Exit(m.Run())
}

// inheritedChild prints what Inherited found, and whether the variables
// are gone afterwards, one line per file.
func inheritedChild() int {
	files, src, err := Inherited()
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for _, k := range []string{EnvListenFDs, EnvListenFDNames, EnvListenPID, EnvInheritFDs, EnvInheritFDNames} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("still set: %s=%s\n", k, v)
		}
	}
	fmt.Println("source:", src)
	for _, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		fmt.Printf("%s %s cloexec=%v\n", f.Name(), ln.Addr(), flags&unix.FD_CLOEXEC != 0)
		ln.Close()
	}
	return 0
}

// socketPair is a connected pair of SOCK_SEQPACKET unix sockets.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.DialUnix("unixpacket", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.AcceptUnix()
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// listenFiles opens n loopback listeners and returns their files, named
// for their addresses; the listeners themselves are closed, so the files
// alone hold the sockets.
func listenFiles(t *testing.T, n int) []*os.File {
	t.Helper()
	var files []*os.File
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		named := os.NewFile(f.Fd(), "tcp://"+ln.Addr().String())
		files = append(files, named)
		t.Cleanup(func() { named.Close() })
	}
	return files
}

// TestSendReceive passes listening sockets over a unix socket, in more
// than one message, and the receiver accepts on each.
func TestSendReceive(t *testing.T) {
	for _, n := range []int{1, 3, batch, batch + 6} {
		t.Run(fmt.Sprintf("files=%d", n), func(t *testing.T) {
			base := fdcheck.Baseline(t)
			files := listenFiles(t, n)
			a, b := socketPair(t)
			errc := make(chan error, 1)
			go func() { errc <- Send(a, files) }()
			got, err := Receive(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("received %d files, want %d", len(got), n)
			}
			for i, f := range got {
				if f.Name() != files[i].Name() {
					t.Fatalf("file %d named %q, want %q", i, f.Name(), files[i].Name())
				}
				flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
				if err != nil || flags&unix.FD_CLOEXEC == 0 {
					t.Fatalf("received fd %d not close-on-exec (%v)", f.Fd(), err)
				}
				ln, err := net.FileListener(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				addr := strings.TrimPrefix(files[i].Name(), "tcp://")
				if ln.Addr().String() != addr {
					t.Fatalf("received socket %d bound to %v, want %s", i, ln.Addr(), addr)
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
				s, err := ln.Accept()
				if err != nil {
					t.Fatalf("accept on the received socket: %v", err)
				}
				s.Close()
				c.Close()
				ln.Close()
			}
			for _, f := range files {
				f.Close()
			}
			a.Close()
			b.Close()
			fdcheck.Check(t, base)
		})
	}
}

// TestSendKeepsMode: Send must not switch a non-blocking socket, which
// the sender's engine still accepts on, to blocking.
func TestSendKeepsMode(t *testing.T) {
	files := listenFiles(t, 1)
	rc, err := files[0].SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var raw int
	rc.Control(func(fd uintptr) { raw = int(fd) })
	if err := unix.SetNonblock(raw, true); err != nil {
		t.Fatal(err)
	}
	a, b := socketPair(t)
	errc := make(chan error, 1)
	go func() { errc <- Send(a, files) }()
	got, err := Receive(b)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(uintptr(raw), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("after Send the socket is blocking (flags %#x, %v)", fl, err)
	}
}

// TestReceiveRejects: a peer that is not a hand-over, or sends names and
// fds that do not match, gets ErrProtocol and leaves no fd open.
func TestReceiveRejects(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		fds     int
		hangUp  bool
	}{
		{name: "not-a-handover", payload: "hello", fds: 1},
		{name: "more-names", payload: magic + "\na\nb", fds: 1},
		{name: "more-fds", payload: magic + "\na", fds: 2},
		{name: "bad-escape", payload: magic + "\n%zz", fds: 1},
		{name: "hang-up", payload: magic + "\na", fds: 1, hangUp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := fdcheck.Baseline(t)
			a, b := socketPair(t)
			fds := make([]int, tc.fds)
			for i := range fds {
				fds[i] = int(os.Stdin.Fd())
			}
			if _, _, err := a.WriteMsgUnix([]byte(tc.payload), unix.UnixRights(fds...), nil); err != nil {
				t.Fatal(err)
			}
			if tc.hangUp {
				a.Close()
			}
			if _, err := Receive(b); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Receive = %v, want ErrProtocol", err)
			}
			a.Close()
			b.Close()
			fdcheck.Check(t, base)
		})
	}
}

// TestInherited starts this binary with sockets from fd 3 and each way of
// telling it so; the child must find them, with their names, close-on-exec,
// and with the variables unset.
func TestInherited(t *testing.T) {
	files := listenFiles(t, 2)
	addr0 := strings.TrimPrefix(files[0].Name(), "tcp://")
	addr1 := strings.TrimPrefix(files[1].Name(), "tcp://")
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{name: "parent", env: ExecEnv([]string{files[0].Name(), files[1].Name()}),
			want: []string{"source: parent", files[0].Name() + " " + addr0 + " cloexec=true", files[1].Name() + " " + addr1 + " cloexec=true"}},
		{name: "nothing", env: nil, want: []string{"source: none"}},
		{name: "systemd-other-pid", env: []string{"LISTEN_FDS=2", "LISTEN_PID=1"},
			want: []string{"source: none"}},
		{name: "parent-promises-too-many", env: ExecEnv([]string{"a", "b", "c"}),
			want: []string{"error: handover: malformed socket-passing environment: fd 5 (3 of 3, from parent) is not a socket: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(CleanEnv(os.Environ()), childEnv+"=1")
			cmd.Env = append(cmd.Env, tc.env...)
			cmd.ExtraFiles = files
			out, _ := cmd.CombinedOutput()
			// The last line may go on with the errno's text.
			got, want := strings.TrimSpace(string(out)), strings.Join(tc.want, "\n")
			if !strings.HasPrefix(got, want) || strings.Count(got, "\n") != strings.Count(want, "\n") {
				t.Fatalf("child said:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
			}
		})
	}
}
