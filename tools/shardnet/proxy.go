package main

import (
	"fmt"
	"io"
)

// runProxy is being written (issue 6); until then the command says so.
func runProxy(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "shardnet: this command is not built yet")
	return 1
}
