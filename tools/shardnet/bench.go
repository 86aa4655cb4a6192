package main

import (
	"fmt"
	"io"
)

// runBench is being written (issue 6); until then the command says so.
func runBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "shardnet: this command is not built yet")
	return 1
}
