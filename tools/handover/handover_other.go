//go:build !unix

package handover

import (
	"net"
	"os"
)

// Off Unix there is no fd passing: Inherited finds nothing, Send and
// Receive fail with ErrUnsupported.

// Inherited returns nothing: no platform here passes fds this way.
func Inherited() ([]*os.File, Source, error) { return nil, FromNone, nil }

// Send fails with ErrUnsupported.
func Send(*net.UnixConn, []*os.File) error { return ErrUnsupported }

// Receive fails with ErrUnsupported.
func Receive(*net.UnixConn) ([]*os.File, error) { return nil, ErrUnsupported }
