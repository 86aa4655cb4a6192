package handover_test

import (
	"fmt"

	"github.com/shardnet/shardnet/tools/handover"
)

// A process that re-executes itself passes its listening sockets as the
// child's extra files (fd 3 on) and adds these variables to its
// environment; the child's Inherited reads them back.
func ExampleExecEnv() {
	for _, kv := range handover.ExecEnv([]string{"tcp://127.0.0.1:7000", "unix:///run/shardnet.sock"}) {
		fmt.Println(kv)
	}
	// Output:
	// SHARDNET_LISTEN_FDS=2
	// SHARDNET_LISTEN_FDNAMES=tcp%3A%2F%2F127.0.0.1%3A7000:unix%3A%2F%2F%2Frun%2Fshardnet.sock
}
