//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// caRe finds the authority's file in a -tls-self-signed start-up line.
var caRe = regexp.MustCompile(`ca=(\S+)`)

// tlsFailedRe finds the count of failed handshakes in the exit stats.
var tlsFailedRe = regexp.MustCompile(`tls-failed=(\d+)`)

// writePKI writes an authority's certificate and a leaf for localhost and
// 127.0.0.1 into a temporary directory, and returns the three paths.
func writePKI(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	ca, err := tlscert.NewAuthority("shardnet tools test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = tlscert.WriteFiles(dir, "server", leaf)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, certFile, keyFile
}

// clientConfig is a TLS client's configuration that trusts caFile's
// authority and verifies the name localhost.
func clientConfig(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", caFile)
	}
	return &tls.Config{RootCAs: roots, ServerName: "localhost"}
}

func TestHTTPSWithCurlAndWrk(t *testing.T) {
	caFile, certFile, keyFile := writePKI(t)
	s := startHTTP(t, "-tls", certFile+","+keyFile)
	url := "https://" + s.addr
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"TLS 1.2", []string{"--tlsv1.2", "--tls-max", "1.2"}, []string{"SSL connection using TLSv1.2", "ALPN: server accepted http/1.1", "Hello, World!"}},
		{"TLS 1.3", []string{"--tlsv1.3"}, []string{"SSL connection using TLSv1.3", "ALPN: server accepted http/1.1", "Hello, World!"}},
		{"two requests on one connection", []string{"--tlsv1.3", url + "/json"}, []string{"Hello, World!", `{"message":"Hello, World!"}`, "Re-using existing connection"}},
	} {
		t.Run("curl "+tc.name, func(t *testing.T) {
			args := append([]string{"-sv", "--cacert", caFile}, tc.args...)
			out := runCurl(t, append(args, url+"/plaintext")...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("curl output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	script := filepath.Join(t.TempDir(), "pipeline.lua")
	if err := os.WriteFile(script, []byte(wrkPipelineScript), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"keep-alive", nil},
		{"pipelined 16 deep", []string{"-s", script}},
	} {
		t.Run("wrk "+tc.name, func(t *testing.T) {
			args := append([]string{"-t1", "-c16", "-d2s", "--timeout", "5s"}, tc.args...)
			out := runClient(t, "", "wrk", append(args, url+"/plaintext")...)
			t.Logf("wrk https %s:\n%s", tc.name, out)
			sum, ok := parseWrk(out)
			switch {
			case !ok:
				t.Fatalf("wrk output has no request count:\n%s", out)
			case sum.requests == 0:
				t.Fatalf("wrk made no requests:\n%s", out)
			case sum.socketErrors != "":
				t.Fatalf("wrk: %s\n%s", sum.socketErrors, out)
			case sum.non2xx != 0:
				t.Fatalf("wrk: %d non-2xx responses\n%s", sum.non2xx, out)
			}
		})
	}
	// Plaintext HTTP to the TLS port gets no answer in the clear.
	if out, _ := runCurlFails(t, "-s", "-m", "5", "http://"+s.addr+"/plaintext"); strings.Contains(out, "Hello") {
		t.Fatalf("plaintext request answered: %q", out)
	}
	// The stats at exit count it among the failed handshakes (wrk may
	// add some of its own: it drops connections mid-handshake at the end).
	out := s.stop(t)
	if m := tlsFailedRe.FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("the stats at exit do not count the failed handshake of the plaintext request:\n%s", out)
	}
}

func TestSelfSignedEchoAndBench(t *testing.T) {
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "2", "-tls-self-signed")
	m := caRe.FindStringSubmatch(echo.line)
	if m == nil {
		t.Fatalf("no ca= in the start-up line %q", echo.line)
	}
	ca := m[1]
	_, port, _ := strings.Cut(echo.addr, ":")
	stdout, stderr, code := runBenchCmd(t, "-tls", "-tls-ca", ca, "-addr", "localhost:"+port,
		"-c", "20", "-size", "2000", "-pipeline", "4", "-duration", "1s")
	if code != 0 || !strings.Contains(stdout, "errors    0 (ok)") {
		t.Fatalf("bench -tls: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Without the authority the certificate is refused: verification is
	// skipped only when asked.
	if _, stderr, code := runBenchCmd(t, "-tls", "-addr", "localhost:"+port, "-c", "1", "-duration", "1s"); code == 0 || !strings.Contains(stderr, "unknown authority") {
		t.Fatalf("bench -tls without -tls-ca: exit %d, %s; want a verification failure", code, stderr)
	}
	if _, stderr, code := runBenchCmd(t, "-tls", "-tls-insecure-skip-verify", "-addr", echo.addr, "-c", "2", "-duration", "1s"); code != 0 {
		t.Fatalf("bench -tls -tls-insecure-skip-verify: exit %d\n%s", code, stderr)
	}
	echo.stop(t)
	if _, err := os.Stat(ca); !os.IsNotExist(err) {
		t.Fatalf("the authority's file %s is left after exit: %v", ca, err)
	}
}

// runCurlFails runs curl, which is expected to fail, and returns its
// output and error.
func runCurlFails(t *testing.T, args ...string) (string, error) {
	t.Helper()
	needTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", args...).CombinedOutput()
	if err == nil {
		t.Fatalf("curl %v succeeded:\n%s", args, out)
	}
	return string(out), err
}
