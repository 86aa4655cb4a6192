// Command peer-nethttp is the benchmark HTTP plaintext server written on
// net/http, served over Go's net (-over net) or over shardnet's net.Conn
// adapter, engine/netconn (-over shardnet, on -loops shards): the same
// http.Server and handler over both, so the comparison measures the
// adapter against net under an unchanged standard-library stack. Every
// request is answered 200 with "Hello, World!" (Content-Type text/plain,
// Content-Length 13 and Date by net/http), the body the other peers send.
// Flags and signals are ../../internal/peer's; only -mode http is served.
//
//	peer-nethttp -over shardnet -mode http -addr 127.0.0.1:8080 -loops 1
package main

import (
	"fmt"
	"net/http"

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
	peer.Main("nethttp", func(addr, mode string, loops int) error {
		if mode != "http" {
			return fmt.Errorf("-mode %s: peer-nethttp serves only http", mode)
		}
		ln, err := stdlisten.Listen(*over, addr, loops)
		if err != nil {
			return err
		}
		peer.Ready()
		// net/http's defaults: no timeouts, keep-alive on.
		return (&http.Server{Handler: plaintext{body: []byte("Hello, World!"), contentType: []string{"text/plain"}}}).Serve(ln)
	})
}
