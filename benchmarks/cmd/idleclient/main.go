// Command idleclient opens -n TCP connections to -addr and holds them open
// without sending, so the driver can measure a server's memory per idle
// connection from another process. Connections come from -sources local
// addresses 127.0.0.2, 127.0.0.3, ... so that no one source runs short of
// ephemeral ports. With -http, each connection first sends one HTTP/1.1
// GET and reads its 200 answer, so it idles as a keep-alive connection
// that has served a request (a server may hold more for those than for
// one that never spoke); -body N makes that request carry an N-byte body
// (a 16 KiB one fills a whole TLS record, which crypto/tls keeps a buffer
// for: the client sends full records from the start). With -tls each
// connection first completes a TLS 1.3 handshake (X25519, the certificate
// verified against -tls-ca), so that it idles as a TLS connection. With
// -echo, each connection first sends one byte and reads it back: through
// a proxy to an echo server, that proves the pair is relayed both ways
// before it idles. It prints "connected N" once every dial (handshake and
// request) has finished and then waits for SIGTERM or SIGINT.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "server address")
	n := flag.Int("n", 10000, "connections")
	sources := flag.Int("sources", 4, "local source addresses 127.0.0.2 and up")
	parallel := flag.Int("parallel", 64, "dials in flight")
	withHTTP := flag.Bool("http", false, "make one HTTP/1.1 request on each connection (keep-alive) before holding it")
	body := flag.Int("body", 0, "with -http: the request's body, in bytes (GET with a Content-Length)")
	withTLS := flag.Bool("tls", false, "complete a TLS 1.3 handshake (X25519) on each connection before holding it")
	caFile := flag.String("tls-ca", "", "with -tls: verify the server's certificate against this authority (PEM file)")
	withEcho := flag.Bool("echo", false, "send one byte on each connection and read it back before holding it (an echo server, or a proxy to one)")
	flag.Parse()
	var tlsCfg *tls.Config
	if *withTLS {
		var err error
		if tlsCfg, err = clientTLS(*caFile, *addr); err != nil {
			fmt.Fprintln(os.Stderr, "idleclient:", err)
			os.Exit(2)
		}
	}
	req := request(*body)

	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for i := 0; i < *n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			d := net.Dialer{
				Timeout:   10 * time.Second,
				LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%*sources))},
			}
			c, err := d.Dial("tcp", *addr)
			if err == nil && tlsCfg != nil {
				tc := tls.Client(c, tlsCfg)
				c = tc
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err = tc.Handshake(); err != nil {
					c.Close()
				}
				tc.SetDeadline(time.Time{})
			}
			if err == nil && *withHTTP {
				if err = oneRequest(c, req); err != nil {
					c.Close()
				}
			}
			if err == nil && *withEcho {
				if err = oneEcho(c); err != nil {
					c.Close()
				}
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "idleclient: %d of %d dials failed, first: %v\n", f, *n, firstErr.Load())
		os.Exit(1)
	}
	fmt.Printf("connected %d\n", *n)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	for _, c := range conns {
		c.Close()
	}
}

// oneEcho sends one byte on c and expects the same byte back.
func oneEcho(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{'e'}); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != 'e' {
		return fmt.Errorf("echo: got %q, want %q", b[0], 'e')
	}
	return nil
}

// clientTLS is the TLS configuration of -tls: TLS 1.3 with X25519 alone
// (the key exchange every server in the comparison does), the server's
// certificate verified against caFile's authority for addr's host.
func clientTLS(caFile, addr string) (*tls.Config, error) {
	if caFile == "" {
		return nil, errors.New("-tls needs -tls-ca: the server's certificate is verified")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", caFile)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		RootCAs:          roots,
		ServerName:       host,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
		NextProtos:       []string{"http/1.1"},
		// Full records from the first byte, as OpenSSL's clients send
		// them: crypto/tls's own client starts a connection with records
		// of one MSS and grows them, so a 16 KiB request would never
		// fill the server's record buffer.
		DynamicRecordSizingDisabled: true,
	}, nil
}

// request returns the keep-alive GET oneRequest sends, with a body of
// size bytes when size > 0 (the servers read and drop it before their
// answer).
func request(size int) []byte {
	if size <= 0 {
		return []byte("GET /plaintext HTTP/1.1\r\nHost: idle\r\n\r\n")
	}
	head := fmt.Sprintf("GET /plaintext HTTP/1.1\r\nHost: idle\r\nContent-Length: %d\r\n\r\n", size)
	req := make([]byte, len(head)+size)
	copy(req, head)
	for i := len(head); i < len(req); i++ {
		req[i] = 'a' + byte(i%26)
	}
	return req
}

// oneRequest sends req, a keep-alive GET, on c and reads the whole answer,
// which must be a 200 that keeps the connection open.
func oneRequest(c net.Conn, req []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return err
	}
	// The answer is small and the server sends nothing more before the
	// next request, so this reader cannot take bytes that belong to later.
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("answer %s", resp.Status)
	case resp.Close:
		return fmt.Errorf("the server closes the connection after the request")
	}
	return nil
}
