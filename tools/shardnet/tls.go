//go:build linux

package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// tlsFlags are the TLS flags of the server commands that serve TLS.
type tlsFlags struct {
	files      string   // "cert.pem,key.pem"
	selfSigned bool     // make a throwaway authority and certificate
	alpn       []string // the protocols the command speaks, for ALPN
	caFile     string   // with selfSigned: where the authority's certificate was written
}

// register adds -tls and -tls-self-signed to fs.
func (tf *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&tf.files, "tls", "", "serve TLS with this certificate chain and key, PEM files: cert.pem,key.pem")
	fs.BoolVar(&tf.selfSigned, "tls-self-signed", false, "serve TLS with a throwaway certificate for localhost, 127.0.0.1 and ::1, signed by a throwaway authority whose certificate is written to a temporary file (its path is printed: give it to clients, e.g. curl --cacert)")
}

// config returns the TLS config the flags ask for, or nil for plaintext.
// With -tls-self-signed it writes the authority's certificate to a
// temporary file (tf.caFile), which the caller removes on exit.
func (tf *tlsFlags) config() (*tls.Config, error) {
	if tf.files != "" && tf.selfSigned {
		return nil, fmt.Errorf("-tls and -tls-self-signed: give one")
	}
	var cert tls.Certificate
	switch {
	case tf.files != "":
		certFile, keyFile, ok := strings.Cut(tf.files, ",")
		if !ok || certFile == "" || keyFile == "" {
			return nil, fmt.Errorf("-tls %q: want cert.pem,key.pem", tf.files)
		}
		var err error
		if cert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return nil, fmt.Errorf("-tls: %w", err)
		}
	case tf.selfSigned:
		ca, err := tlscert.NewAuthority("shardnet throwaway CA")
		if err != nil {
			return nil, err
		}
		if cert, err = ca.Leaf("localhost", "127.0.0.1", "::1"); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp("", "shardnet-ca-*.pem")
		if err != nil {
			return nil, err
		}
		_, werr := f.Write(ca.PEM())
		if err := f.Close(); werr != nil || err != nil {
			os.Remove(f.Name())
			return nil, fmt.Errorf("write the authority's certificate: %v %v", werr, err)
		}
		tf.caFile = f.Name()
	default:
		return nil, nil
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: tf.alpn}, nil
}

// clientTLS is the TLS config of a client side (bench -tls, proxy
// -backend-tls): the system's authorities, or caFile's; verification is
// skipped only when insecure is asked for explicitly.
func clientTLS(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", caFile)
		}
	}
	return cfg, nil
}
