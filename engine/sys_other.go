//go:build !linux

package engine

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
)

// Off Linux the engine's types and logic compile, so code built on
// shardnet compiles everywhere, but New fails with an error wrapping
// ErrUnsupported before anything below can run: these are the system
// calls the Linux files make, as stubs.

// unsupportedError names the platform; errors.Is matches ErrUnsupported
// and errors.ErrUnsupported.
type unsupportedError struct{}

func (unsupportedError) Error() string {
	return "engine: unsupported platform " + runtime.GOOS + "/" + runtime.GOARCH + " (Linux only)"
}

func (unsupportedError) Unwrap() []error { return []error{ErrUnsupported, errors.ErrUnsupported} }

func platformErr() error { return unsupportedError{} }

type iovecs struct{}

func newIovecs(int) iovecs                                     { return iovecs{} }
func (*iovecs) writev(int, [][]byte) (int, error)              { return 0, platformErr() }
func rawRead(int, []byte) (int, error)                         { return 0, platformErr() }
func rawWrite(int, []byte) (int, error)                        { return 0, platformErr() }
func rawAccept(int) (int, netip.AddrPort, error)               { return -1, netip.AddrPort{}, platformErr() }
func threadID() int64                                          { return -1 }
func closeFd(int)                                              {}
func shutdownWrite(int) error                                  { return platformErr() }
func setLingerZero(int)                                        {}
func setConnOptions(int, *config)                              {}
func sockName(int, bool) net.Addr                              { return nil }
func peerAddrPort(int) netip.AddrPort                          { return netip.AddrPort{} }
func listenSocket(string, string, bool) (int, net.Addr, error) { return -1, nil, platformErr() }
func openSpare() (int, error)                                  { return -1, platformErr() }
func listeningSocket(int) (net.Addr, bool, error)              { return nil, false, platformErr() }
func acceptAndClose(int) bool                                  { return false }
func dupFd(uintptr) (int, error)                               { return -1, platformErr() }
func setNonblock(int) error                                    { return platformErr() }
func connectResult(int) error                                  { return platformErr() }
func connectStart(netip.AddrPort, string, *config) (int, bool, error) {
	return -1, false, platformErr()
}

type socketFeatures struct{ gso, gro bool }

type recvBatch struct{}

type sendBatch struct{ n int }

func packetSocket(string, string, bool) (int, netip.AddrPort, bool, error) {
	return -1, netip.AddrPort{}, false, platformErr()
}
func packetDialSocket(netip.AddrPort) (int, netip.AddrPort, error) {
	return -1, netip.AddrPort{}, platformErr()
}
func setupPacketSocket(int, bool, bool, *config) socketFeatures { return socketFeatures{} }
func isGSOError(error) bool                                     { return false }
func isAgain(error) bool                                        { return false }
func maxDatagram(bool) int                                      { return 65507 }
func newRecvBatch(int, int) *recvBatch                          { return &recvBatch{} }
func (*recvBatch) slots() int                                   { return 0 }
func (*recvBatch) recv(int) (int, error)                        { return 0, platformErr() }
func (*recvBatch) slot(int) ([]byte, netip.AddrPort, bool, rxInfo) {
	return nil, netip.AddrPort{}, false, rxInfo{}
}
func newSendBatch(int) *sendBatch                                                 { return &sendBatch{} }
func (b *sendBatch) reset()                                                       { b.n = 0 }
func (*sendBatch) full() bool                                                     { return true }
func (*sendBatch) add([]byte, netip.AddrPort, bool, bool, netip.Addr, int32, int) {}
func (*sendBatch) send(int, int) (int, error)                                     { return 0, platformErr() }
