package handover

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for _, e := range kv {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestParseEnv(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     []string
		want    passed
		wantErr error
	}{
		{name: "nothing", want: passed{}},
		{name: "systemd-one-unnamed", env: []string{"LISTEN_FDS=1", "LISTEN_PID=4242"},
			want: passed{source: FromSystemd, names: []string{""}}},
		{name: "systemd-named", env: []string{"LISTEN_FDS=2", "LISTEN_PID=4242", "LISTEN_FDNAMES=web:admin"},
			want: passed{source: FromSystemd, names: []string{"web", "admin"}}},
		{name: "systemd-for-another-pid", env: []string{"LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=web:admin"},
			want: passed{}},
		{name: "systemd-for-another-pid-but-ours-set", env: []string{"LISTEN_FDS=2", "LISTEN_PID=1", "SHARDNET_LISTEN_FDS=1", "SHARDNET_LISTEN_FDNAMES=tcp%3A%2F%2F127.0.0.1%3A7000"},
			want: passed{source: FromParent, names: []string{"tcp://127.0.0.1:7000"}}},
		{name: "systemd-without-pid", env: []string{"LISTEN_FDS=1"}, wantErr: ErrBadEnv},
		{name: "systemd-bad-pid", env: []string{"LISTEN_FDS=1", "LISTEN_PID=x"}, wantErr: ErrBadEnv},
		{name: "systemd-bad-count", env: []string{"LISTEN_FDS=two", "LISTEN_PID=4242"}, wantErr: ErrBadEnv},
		{name: "systemd-negative-count", env: []string{"LISTEN_FDS=-1", "LISTEN_PID=4242"}, wantErr: ErrBadEnv},
		{name: "systemd-huge-count", env: []string{"LISTEN_FDS=100000", "LISTEN_PID=4242"}, wantErr: ErrBadEnv},
		{name: "systemd-names-mismatch", env: []string{"LISTEN_FDS=2", "LISTEN_PID=4242", "LISTEN_FDNAMES=web"}, wantErr: ErrBadEnv},
		{name: "systemd-zero", env: []string{"LISTEN_FDS=0", "LISTEN_PID=4242"}, want: passed{source: FromSystemd, names: []string{}}},
		{name: "parent", env: []string{"SHARDNET_LISTEN_FDS=2", "SHARDNET_LISTEN_FDNAMES=tcp%3A%2F%2F127.0.0.1%3A7000:unix%3A%2F%2F%2Ftmp%2Fa+b.sock"},
			want: passed{source: FromParent, names: []string{"tcp://127.0.0.1:7000", "unix:///tmp/a b.sock"}}},
		{name: "parent-names-mismatch", env: []string{"SHARDNET_LISTEN_FDS=2", "SHARDNET_LISTEN_FDNAMES=a"}, wantErr: ErrBadEnv},
		{name: "parent-bad-escape", env: []string{"SHARDNET_LISTEN_FDS=1", "SHARDNET_LISTEN_FDNAMES=%zz"}, wantErr: ErrBadEnv},
		{name: "parent-bad-count", env: []string{"SHARDNET_LISTEN_FDS=1x"}, wantErr: ErrBadEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnv(envOf(tc.env...), pid)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("parseEnv = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.source != tc.want.source || len(got.names) != len(tc.want.names) ||
				(len(got.names) > 0 && !reflect.DeepEqual(got.names, tc.want.names)) {
				t.Fatalf("parseEnv = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExecEnvRoundTrip(t *testing.T) {
	names := []string{"tcp://127.0.0.1:7000", "tcp://[::1]:7000", "unix:///run/a:b%c.sock", ""}
	got, err := parseEnv(envOf(ExecEnv(names)...), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.source != FromParent || !reflect.DeepEqual(got.names, names) {
		t.Fatalf("round trip = %+v, want %q from the parent", got, names)
	}
}

func TestCleanEnv(t *testing.T) {
	env := []string{"PATH=/bin", "LISTEN_FDS=1", "LISTEN_PID=3", "LISTEN_FDNAMES=x", "SHARDNET_LISTEN_FDS=1",
		"SHARDNET_LISTEN_FDNAMES=y", "LISTEN_FDS_X=kept", "HOME=/root"}
	want := []string{"PATH=/bin", "LISTEN_FDS_X=kept", "HOME=/root"}
	if got := CleanEnv(env); !reflect.DeepEqual(got, want) {
		t.Fatalf("CleanEnv = %q, want %q", got, want)
	}
}

// FuzzParseEnv: any values of the variables give a result or ErrBadEnv,
// never a panic, and names always match the count.
func FuzzParseEnv(f *testing.F) {
	f.Add("2", "7", "a:b", "", "")
	f.Add("", "", "", "1", "tcp%3A%2F%2Fx")
	f.Add("1", "x", "", "3", "a:b:c")
	f.Fuzz(func(t *testing.T, fds, pid, names, own, ownNames string) {
		got, err := parseEnv(envOf("LISTEN_FDS="+fds, "LISTEN_PID="+pid, "LISTEN_FDNAMES="+names,
			"SHARDNET_LISTEN_FDS="+own, "SHARDNET_LISTEN_FDNAMES="+ownNames), 7)
		if err != nil {
			if !errors.Is(err, ErrBadEnv) {
				t.Fatalf("error %v does not wrap ErrBadEnv", err)
			}
			return
		}
		if len(got.names) > maxFDs || (got.source == FromNone && len(got.names) != 0) {
			t.Fatalf("parseEnv = %+v", got)
		}
	})
}

// FuzzPayload: any payload with any fd count parses or fails with
// ErrProtocol, never panics; names written by appendPayload read back.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(magic+"\ntcp%3A%2F%2F127.0.0.1%3A7000"), 1, "unix:///a b:c\n%")
	f.Add([]byte(magic), 0, "")
	f.Add([]byte("GET / HTTP/1.1\r\n"), 2, "x")
	f.Fuzz(func(t *testing.T, b []byte, fds int, name string) {
		if fds < 0 || fds > 300 {
			return
		}
		if _, err := parsePayload(b, fds); err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("error %v does not wrap ErrProtocol", err)
		}
		names := []string{name, name + "2"}
		got, err := parsePayload(appendPayload(nil, names), len(names))
		if err != nil || !reflect.DeepEqual(got, names) {
			t.Fatalf("round trip of %q = %q, %v", names, got, err)
		}
	})
}
