package engine_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/tlscert"
)

// tlsInfo answers each read with the bytes in upper case and the TLS
// version the connection negotiated.
type tlsInfo struct{ upper }

func (h tlsInfo) OnOpen(c *engine.Conn) error {
	st, _ := c.TLS()
	fmt.Fprintf(c, "TLS 1.%d, ALPN %q\n", st.Version-tls.VersionTLS10, st.NegotiatedProtocol)
	return nil
}

// Serve TLS beside plaintext on one engine, and talk to it with
// crypto/tls's client: the handler reads and writes plaintext.
func ExampleListenTLS() {
	ca, _ := tlscert.NewAuthority("example CA")
	leaf, _ := ca.Leaf("localhost")
	e, err := engine.New(tlsInfo{}, engine.WithShards(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp://127.0.0.1:0", engine.ListenTLS(&tls.Config{
		Certificates: []tls.Certificate{leaf},
		NextProtos:   []string{"echo/1"},
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	nc, err := tls.Dial("tcp", addr.String(), &tls.Config{
		RootCAs: ca.Pool(), ServerName: "localhost", NextProtos: []string{"echo/1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write([]byte("hello over tls"))
	buf := make([]byte, len("TLS 1.3, ALPN \"echo/1\"\nHELLO OVER TLS"))
	if _, err := io.ReadFull(nc, buf); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(buf))
	// Output:
	// TLS 1.3, ALPN "echo/1"
	// HELLO OVER TLS
}
