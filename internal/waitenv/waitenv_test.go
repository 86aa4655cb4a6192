package waitenv

import (
	"strings"
	"testing"
)

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		env     string
		n       int
		wantErr bool
	}{
		{"", 0, false},
		{"syscall", 1, false},
		{"runtime", 1, false},
		{"runtime-pinned", 2, false},
		{"Runtime", 0, true},
		{"epoll", 0, true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			opts, err := Options(func(k string) string {
				if k != Var {
					t.Fatalf("read %q, want %q", k, Var)
				}
				return tc.env
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Options error %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), Var) {
				t.Errorf("error %q does not name %s", err, Var)
			}
			if len(opts) != tc.n {
				t.Errorf("Options gave %d options, want %d", len(opts), tc.n)
			}
		})
	}
}
