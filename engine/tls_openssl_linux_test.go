package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// reportHandler answers a connection's first bytes with what the TLS
// layer told it (the SNI name, resumption, the client certificate's name)
// and the bytes themselves, then closes: one exchange per openssl run.
type reportHandler struct{ *tlsHandler }

func (h reportHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	st, _ := c.TLS()
	client := "none"
	if len(st.PeerCertificates) > 0 {
		client = st.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(c, "sni=%s resumed=%v client=%s echo=%s", st.ServerName, st.DidResume, client, b)
	c.Close()
}

// opensslClient runs openssl s_client against addr with args and stdin,
// and returns its output (stdout and stderr together).
func opensslClient(t *testing.T, addr, stdin string, args ...string) (string, error) {
	t.Helper()
	return opensslRun(t, stdin, append([]string{"s_client", "-connect", addr, "-ign_eof"}, args...)...)
}

// opensslRun runs openssl with args and stdin, and returns its output.
func opensslRun(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is not installed (.ci/run installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("openssl s_client %v did not finish:\n%s", args, out)
	}
	return string(out), err
}

func TestTLSWithOpenSSL(t *testing.T) {
	noLeaks(t)
	ca, err := tlscert.NewAuthority("shardnet openssl test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	certs := map[string]tls.Certificate{}
	for _, name := range []string{"a.test", "b.test"} {
		if certs[name], err = ca.Leaf(name); err != nil {
			t.Fatal(err)
		}
	}
	clientCert, err := ca.Leaf("client.test")
	if err != nil {
		t.Fatal(err)
	}
	clientPEM, clientKey, err := tlscert.WriteFiles(dir, "client", clientCert)
	if err != nil {
		t.Fatal(err)
	}
	sni := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, ok := certs[hi.ServerName]
		if !ok {
			return nil, fmt.Errorf("no certificate for %q", hi.ServerName)
		}
		return &c, nil
	}}
	mutual := sni.Clone()
	mutual.ClientAuth = tls.RequireAndVerifyClientCert
	mutual.ClientCAs = ca.Pool()

	h := reportHandler{newTLSHandler()}
	e, _ := startEngine(t, h, WithShards(2))
	a, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(sni))
	if err != nil {
		t.Fatal(err)
	}
	addr := a.String()
	ma, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(mutual))
	if err != nil {
		t.Fatal(err)
	}
	mutualAddr := ma.String()
	verify := []string{"-CAfile", caFile, "-verify_return_error"}

	t.Run("SNI picks one of two certificates, verified", func(t *testing.T) {
		for _, name := range []string{"a.test", "b.test"} {
			out, err := opensslClient(t, addr, "ping\n", append(verify, "-servername", name, "-verify_hostname", name)...)
			if err != nil || !strings.Contains(out, "Verify return code: 0 (ok)") || !strings.Contains(out, "sni="+name+" ") ||
				!strings.Contains(out, "echo=ping") {
				t.Fatalf("openssl with SNI %s: %v\n%s", name, err, out)
			}
			h.next(t)
		}
	})

	t.Run("resumption with -sess_out and -sess_in", func(t *testing.T) {
		for _, v := range []string{"-tls1_2", "-tls1_3"} {
			sess := filepath.Join(dir, "sess"+v)
			args := append(verify, v, "-servername", "a.test")
			out, err := opensslClient(t, addr, "first\n", append(args, "-sess_out", sess)...)
			if err != nil || !strings.Contains(out, "resumed=false") || !strings.Contains(out, "New, TLSv1.") {
				t.Fatalf("%s first connection: %v\n%s", v, err, out)
			}
			h.next(t)
			out, err = opensslClient(t, addr, "second\n", append(args, "-sess_in", sess)...)
			if err != nil || !strings.Contains(out, "resumed=true") || !strings.Contains(out, "Reused, TLSv1.") {
				t.Fatalf("%s resumed connection: %v\n%s", v, err, out)
			}
			h.next(t)
		}
	})

	t.Run("renegotiation is refused", func(t *testing.T) {
		// s_client's "R" command starts a renegotiation (TLS 1.2); it
		// reads commands only without -ign_eof.
		out, _ := opensslRun(t, "R\n", append([]string{"s_client", "-connect", addr, "-tls1_2", "-servername", "a.test"}, verify...)...)
		if !strings.Contains(out, "RENEGOTIATING") {
			t.Fatalf("s_client did not renegotiate:\n%s", out)
		}
		reason := h.next(t)
		if !errors.Is(reason, ErrTLS) || !strings.Contains(reason.Error(), "unexpected") {
			t.Fatalf("reason %v: want ErrTLS wrapping crypto/tls's refusal", reason)
		}
		t.Logf("renegotiation: %v", reason)
	})

	t.Run("client certificate", func(t *testing.T) {
		out, err := opensslClient(t, mutualAddr, "hi\n", append(verify, "-servername", "b.test", "-cert", clientPEM, "-key", clientKey)...)
		if err != nil || !strings.Contains(out, "client=client.test") {
			t.Fatalf("openssl with a client certificate: %v\n%s", err, out)
		}
		h.next(t)
		// Without one the handshake fails, and the reason says why.
		out, _ = opensslClient(t, mutualAddr, "hi\n", append(verify, "-servername", "b.test")...)
		if strings.Contains(out, "echo=hi") {
			t.Fatalf("served without a client certificate:\n%s", out)
		}
		reason := h.next(t)
		if !errors.Is(reason, ErrTLS) || !strings.Contains(reason.Error(), "certificate") {
			t.Fatalf("reason %v: want ErrTLS wrapping crypto/tls's missing-certificate error", reason)
		}
	})
}
