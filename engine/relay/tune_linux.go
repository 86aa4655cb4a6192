package relay

import (
	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// tuneSocket sets TCP_NOTSENT_LOWAT on one of a pair's connections. Unix
// sockets refuse it, which is fine: they have no ACK clock to move. Loop
// only.
func tuneSocket(c *engine.Conn, splice bool) {
	lowat := copyNotSentLowat
	if splice {
		lowat = spliceNotSentLowat
	}
	_ = unix.SetsockoptInt(c.Fd(), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, lowat)
}
