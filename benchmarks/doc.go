// Package benchmarks measures shardnet side by side with its peers (Go's net,
// gnet, netpoll, nbio) in one run. It is its own module so that users of the
// library do not inherit the peers it is measured against.
package benchmarks
