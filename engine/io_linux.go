package engine

import (
	"net/netip"

	"github.com/shardnet/shardnet/internal/rawio"
	"golang.org/x/sys/unix"
)

// rawRead and rawWrite are the shard's reads and writes; see package
// rawio for why they skip the scheduler.
func rawRead(fd int, p []byte) (int, error) { return rawio.Read(fd, p) }

func rawWrite(fd int, p []byte) (int, error) { return rawio.Write(fd, p) }

// iovecs is a shard's scratch array for writev.
type iovecs struct{ v []unix.Iovec }

func newIovecs(n int) iovecs { return iovecs{v: make([]unix.Iovec, 0, n)} }

// writev sends bufs with one writev, or one write when there is one
// buffer.
func (iov *iovecs) writev(fd int, bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return rawWrite(fd, bufs[0])
	}
	v := iov.v[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		var e unix.Iovec
		e.Base = &b[0]
		e.SetLen(len(b))
		v = append(v, e)
	}
	iov.v = v
	return rawio.Writev(fd, v)
}

// rawAccept takes one pending connection from the non-blocking listener
// lfd, and the peer's address for the balancer. It allocates nothing:
// unix.Accept4 allocates the raw address and a Sockaddr on every call,
// which on a burst of accepts is most of the garbage the engine makes. The
// address is zero for unix-domain peers.
func rawAccept(lfd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	fd, err := rawio.Accept4(lfd, &rsa, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	return fd, rawAddrPort(&rsa), nil
}
