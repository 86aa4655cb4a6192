// Package interop proves shardnet's standard-library adapters
// (engine/netconn) against real stacks: x/net's nettest conformance suite,
// net/http served to curl and wrk, net/rpc. It is a module of its own so
// that these test requirements never enter the root go.mod; it holds
// tests only.
package interop
