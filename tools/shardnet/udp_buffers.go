//go:build linux

package main

import (
	"flag"

	"github.com/shardnet/shardnet/engine"
)

// socketBuffers are the -rcvbuf and -sndbuf flags of the UDP commands: a
// datagram that arrives while its shard is busy or off its CPU waits in
// the socket's receive buffer, and one that finds it full is lost
// (counted as rcvbuf-drops), so a server that must ride out bursts sizes
// it.
type socketBuffers struct{ rcv, snd int }

// register adds the two flags to fs; which names the sockets they apply
// to, for the help.
func (b *socketBuffers) register(fs *flag.FlagSet, which string) {
	fs.IntVar(&b.rcv, "rcvbuf", 0, "SO_RCVBUF of "+which+" in bytes (the kernel doubles it and caps it at net.core.rmem_max; 0: the kernel's default, net.core.rmem_default): room for the datagrams that come while a shard is busy or off its CPU; what overflows it is counted as rcvbuf-drops")
	fs.IntVar(&b.snd, "sndbuf", 0, "SO_SNDBUF of "+which+" in bytes (capped at net.core.wmem_max; 0: the kernel's default)")
}

// option is the engine option the flags ask for; a negative size is
// refused by engine.New with the option's error.
func (b *socketBuffers) option() engine.Option { return engine.WithSocketBuffers(b.snd, b.rcv) }
