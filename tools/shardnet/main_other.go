//go:build !linux

// Command shardnet runs shardnet's servers and its load generator. They
// need Linux (epoll); built for another platform, the command only says so.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

func main() {
	os.Exit(unsupported(os.Stderr))
}

// unsupported reports that shardnet does not run on this platform and
// returns the exit code, 1.
func unsupported(stderr io.Writer) int {
	fmt.Fprintf(stderr, "shardnet: unsupported platform %s/%s: shardnet runs only on Linux (epoll)\n", runtime.GOOS, runtime.GOARCH)
	return 1
}
