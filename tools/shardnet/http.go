package main

import (
	"fmt"
	"io"
)

// runHTTP is being written (issue 6); until then the command says so.
func runHTTP(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "shardnet: this command is not built yet")
	return 1
}
