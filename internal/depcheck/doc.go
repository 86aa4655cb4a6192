// Package depcheck holds no code: its test checks what the library's
// packages pull in, so that a user importing shardnet gets x/sys,
// bytebufferpool and, for engine/netpollconn, netpoll, and nothing that
// only the tools, the tests or the benchmarks need.
package depcheck
