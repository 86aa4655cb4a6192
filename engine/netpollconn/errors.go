package netpollconn

import (
	"errors"

	"github.com/cloudwego/netpoll"
)

var (
	// ErrWouldBlock is returned by a loop connection's reads when fewer
	// bytes than asked for have arrived: try again on the next OnTraffic.
	ErrWouldBlock = errors.New("netpollconn: not enough bytes yet (loop connection never blocks)")

	// ErrUnsupportedWriter is returned by Append for a writer that is not
	// one of this package's connections.
	ErrUnsupportedWriter = errors.New("netpollconn: Append needs a *netpollconn.Conn")
)

// The errors codecs written for netpoll test for with errors.Is: these are
// netpoll's own values, so such tests keep working.
var (
	errEOF         = netpoll.ErrEOF
	errConnClosed  = netpoll.ErrConnClosed
	errReadTimeout = netpoll.ErrReadTimeout
)
