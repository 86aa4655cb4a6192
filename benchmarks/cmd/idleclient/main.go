// Command idleclient opens -n TCP connections to -addr and holds them open
// without sending, so the driver can measure a server's memory per idle
// connection from another process. Connections come from -sources local
// addresses 127.0.0.2, 127.0.0.3, ... so that no one source runs short of
// ephemeral ports. With -http, each connection first sends one HTTP/1.1
// GET and reads its 200 answer, so it idles as a keep-alive connection
// that has served a request (a server may hold more for those than for
// one that never spoke). With -echo, each connection first sends one byte
// and reads it back: through a proxy to an echo server, that proves the
// pair is relayed both ways before it idles. It prints "connected N" once every dial (and
// request) has finished and then waits for SIGTERM or SIGINT.
package main

import (
	"bufio"
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
	withEcho := flag.Bool("echo", false, "send one byte on each connection and read it back before holding it (an echo server, or a proxy to one)")
	flag.Parse()

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
			if err == nil && *withHTTP {
				if err = oneRequest(c); err != nil {
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

// oneRequest sends a keep-alive GET on c and reads the whole answer, which
// must be a 200 that keeps the connection open.
func oneRequest(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: idle\r\n\r\n"); err != nil {
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
