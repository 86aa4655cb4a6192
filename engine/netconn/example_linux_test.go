package netconn_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shardnet/shardnet/engine/netconn"
)

// net/http's server on the shards, and net/http's client through the
// engine's dialer.
func Example() {
	ln, e, err := netconn.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.URL.Path[1:])
	})}
	go srv.Serve(ln)

	d, _ := netconn.NewDialer(e)
	tr := &http.Transport{DialContext: d.DialContext}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/shards")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	tr.CloseIdleConnections()
	srv.Shutdown(context.Background())
	e.Stop(context.Background())
	// Output: hello, shards
}
