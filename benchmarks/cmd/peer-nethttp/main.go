// Command peer-nethttp is the benchmark HTTP plaintext server written on
// net/http, served over Go's net (-over net) or over shardnet's net.Conn
// adapter, engine/netconn (-over shardnet, on -loops shards): the same
// http.Server and handler over both, so the comparison measures the
// adapter against net under an unchanged standard-library stack. Every
// request is answered 200 with "Hello, World!" (Content-Type text/plain,
// Content-Length 13 and Date by net/http), the body the other peers send.
// Flags and signals are ../../internal/peer's; only -mode http is served.
// With -tls cert.pem,key.pem it serves HTTPS through crypto/tls
// (tls.NewListener over the same listener; ALPN http/1.1, key exchange
// X25519 only, so it meets the other HTTPS peers of the benchmark on the
// same curve).
//
//	peer-nethttp -over shardnet -mode http -addr 127.0.0.1:8080 -loops 1
//	peer-nethttp -mode http -addr 127.0.0.1:8443 -tls cert.pem,key.pem
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"github.com/shardnet/shardnet/benchmarks/internal/stdlisten"
)

// plaintext answers every request alike; net/http adds Content-Length
// (the body is under its buffer) and Date. Its slices are made once and
// set in the header map as they are, so a request allocates no header
// values.
type plaintext struct {
	body        []byte
	contentType []string
}

func (p plaintext) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = p.contentType
	w.Write(p.body)
}

func main() {
	over := stdlisten.Flag()
	tlsFiles := flag.String("tls", "", "serve HTTPS with this certificate chain and key, PEM files: cert.pem,key.pem")
	peer.Main("nethttp", func(addr, mode string, loops int) error {
		if mode != "http" {
			return fmt.Errorf("-mode %s: peer-nethttp serves only http", mode)
		}
		ln, err := stdlisten.Listen(*over, addr, loops)
		if err != nil {
			return err
		}
		if *tlsFiles != "" {
			cfg, err := serverTLS(*tlsFiles)
			if err != nil {
				ln.Close()
				return err
			}
			ln = tls.NewListener(ln, cfg)
		}
		peer.Ready()
		// net/http's defaults: no timeouts, keep-alive on.
		return (&http.Server{Handler: plaintext{body: []byte("Hello, World!"), contentType: []string{"text/plain"}}}).Serve(ln)
	})
}

// serverTLS loads "cert.pem,key.pem" into a server config: ALPN http/1.1
// (net/http is served on a plain listener, so it would not speak h2), and
// X25519 as the only key exchange: Go 1.24+ would otherwise pick
// X25519MLKEM768 with a Go client, a different cost from the other peers'.
func serverTLS(files string) (*tls.Config, error) {
	certFile, keyFile, ok := strings.Cut(files, ",")
	if !ok || certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("-tls %q: want cert.pem,key.pem", files)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls: %w", err)
	}
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		NextProtos:       []string{"http/1.1"},
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil
}
