//go:build linux

// Command shardnet runs shardnet's servers and its load generator.
//
//	shardnet echo  [flags]   echo server (default 127.0.0.1:7000)
//	shardnet udp-echo [flags] UDP echo server (default 127.0.0.1:7001)
//	shardnet http  [flags]   HTTP/1.1 server
//	shardnet kv    [flags]   RESP key-value server
//	shardnet proxy [flags]   TCP proxy
//	shardnet udp-proxy [flags] UDP proxy
//	shardnet bench [flags]   load generator (TCP, TLS or -udp)
//	shardnet soak  [flags]   soak test: server here, load from client processes
//	shardnet rpc-server [flags]  RPC server (tools/rpc)
//	shardnet rpc-bench  [flags]  RPC load generator
//
// Run "shardnet <command> -help" for a command's flags and examples.
package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand: its name, a line of help, and its entry point,
// which gets the remaining arguments and returns the exit code.
type command struct {
	name  string
	short string
	run   func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"echo", "echo server: writes back every byte it reads", runEcho},
		{"udp-echo", "UDP echo server: batched datagrams, GSO/GRO, optional sessions", runUDPEcho},
		{"http", "HTTP/1.1 server: /plaintext and /json, keep-alive and pipelining", runHTTP},
		{"kv", "RESP (Redis protocol) key-value server", runKV},
		{"proxy", "TCP (layer 4) proxy with back-pressure", runProxy},
		{"udp-proxy", "UDP proxy: a session and a backend socket per client, idle expiry", runUDPProxy},
		{"bench", "load generator: echo or sink, verifies every byte", runBench},
		{"soak", "soak test: echo server plus verifying load from client processes", runSoak},
		{"rpc-server", "RPC server (tools/rpc): multiplexed calls, on-shard and offloaded handlers", runRPCServer},
		{"rpc-bench", "RPC load generator: calls/s and latency, verifies every answer", runRPCBench},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if args[0] == "soak-client" { // started by soak; not listed
		return runSoakClient(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "shardnet: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: shardnet <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun 'shardnet <command> -help' for the command's flags and examples.")
}
