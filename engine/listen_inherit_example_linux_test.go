package engine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// Hand a listening socket from one engine to another, as a restart does
// between two processes (there the files travel with tools/handover): the
// new engine serves the same socket, so the old one's Unlisten refuses
// nobody.
func ExampleEngine_ListenerFiles() {
	old, err := engine.New(upper{}, engine.WithShards(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	addr, err := old.Listen("tcp://127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	files, err := old.ListenerFiles()
	if err != nil {
		fmt.Println(err)
		return
	}
	next, err := engine.New(upper{}, engine.WithShards(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := next.ListenFiles(files)
	for _, f := range files {
		f.Close() // the engine serves its own duplicates
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("same address:", got.String() == addr.String())
	old.Unlisten(addr)
	old.Stop(context.Background())

	nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, "served by the new engine\n")
	reply := make([]byte, len("served by the new engine\n"))
	if _, err := io.ReadFull(nc, reply); err != nil {
		fmt.Println(err)
	}
	nc.Close()
	fmt.Print(string(reply))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next.Stop(ctx)
	// Output:
	// same address: true
	// SERVED BY THE NEW ENGINE
}
