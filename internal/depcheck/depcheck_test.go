package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// library is every package a user of shardnet may import.
var library = []string{
	"github.com/shardnet/shardnet/engine/...",
	"github.com/shardnet/shardnet/shard/...",
	"github.com/shardnet/shardnet/buffer/...",
	"github.com/shardnet/shardnet/codec/...",
	"github.com/shardnet/shardnet/balancer/...",
}

// allowed are the module paths the library may depend on (netpoll's own
// dependencies come with the netpoll adapter).
var allowed = []string{
	"github.com/shardnet/shardnet/",
	"golang.org/x/sys/",
	"github.com/valyala/bytebufferpool",
	"github.com/cloudwego/netpoll",
	"github.com/cloudwego/gopkg/",
	"github.com/bytedance/gopkg/",
}

// TestLibraryDependencies fails when a library package (not its tests)
// comes to depend on a module outside the allowed set, such as the tools'
// HdrHistogram or a test-only stack: those belong in tools or in a module
// of their own, not in every importer's build.
func TestLibraryDependencies(t *testing.T) {
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, library...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(library) {
		t.Fatalf("go list found only %q", deps)
	}
	for _, d := range deps {
		ok := false
		for _, a := range allowed {
			if strings.HasPrefix(d, a) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("library depends on %s, outside the allowed modules", d)
		}
	}
}
