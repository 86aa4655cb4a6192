package engine_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/shardnet/shardnet/balancer"
	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// The package's whole exported API, referenced once, in a file without a
// build constraint: it compiles on every platform (CI vets darwin, freebsd
// and windows), so an exported name that only the Linux files declared
// would break the build there, not code that uses shardnet. It runs
// nothing.
var (
	_ func(engine.Handler, ...engine.Option) (*engine.Engine, error)           = engine.New
	_ func(engine.Handler, []string, ...engine.Option) (*engine.Engine, error) = engine.Serve

	_ func(*engine.Engine, string, ...engine.ListenOption) (net.Addr, error)              = (*engine.Engine).Listen
	_ func(*engine.Engine) []net.Addr                                                     = (*engine.Engine).Addrs
	_ func(*engine.Engine, string, func(*engine.Conn, error), ...engine.DialOption) error = (*engine.Engine).Dial
	_ func(*engine.Engine, net.Conn) error                                                = (*engine.Engine).Enroll
	_ func(*engine.Engine, int, bool) error                                               = (*engine.Engine).EnrollFd
	_ func(*engine.Engine) int                                                            = (*engine.Engine).Shards
	_ func(*engine.Engine, context.Context) error                                         = (*engine.Engine).Stop
	_ func(*engine.Engine, uint64) (engine.Handle, bool)                                  = (*engine.Engine).Conn
	_ func(*engine.Engine, func()) error                                                  = (*engine.Engine).Offload
	_ func(*engine.Engine, int, time.Duration, func()) (*engine.Timer, error)             = (*engine.Engine).AfterFunc
	_ func(*engine.Engine, int, time.Duration, func()) (*engine.Timer, error)             = (*engine.Engine).Every
	_ func(*engine.Timer) bool                                                            = (*engine.Timer).Stop
	_ func(*engine.Timer, time.Duration) bool                                             = (*engine.Timer).Reset
	_ func(*engine.Conn, error)                                                           = (*engine.Conn).AbortWith
	_ func(*engine.Engine) engine.Stats                                                   = (*engine.Engine).Stats
	_ func(*engine.Engine) int                                                            = (*engine.Engine).Conns

	_ func(*engine.Conn) uint64                             = (*engine.Conn).ID
	_ func(*engine.Conn) int                                = (*engine.Conn).Shard
	_ func(*engine.Conn) int                                = (*engine.Conn).Fd
	_ func(*engine.Conn) any                                = (*engine.Conn).Context
	_ func(*engine.Conn, any)                               = (*engine.Conn).SetContext
	_ func(*engine.Conn) *engine.Engine                     = (*engine.Conn).Engine
	_ func(*engine.Conn) net.Addr                           = (*engine.Conn).LocalAddr
	_ func(*engine.Conn) net.Addr                           = (*engine.Conn).RemoteAddr
	_ func(*engine.Conn) bool                               = (*engine.Conn).Closed
	_ func(*engine.Conn) int                                = (*engine.Conn).Buffered
	_ func(*engine.Conn, int) ([]byte, error)               = (*engine.Conn).Peek
	_ func(*engine.Conn, int) ([]byte, error)               = (*engine.Conn).Next
	_ func(*engine.Conn, int) (int, error)                  = (*engine.Conn).Discard
	_ func(*engine.Conn, []byte) (int, error)               = (*engine.Conn).Read
	_ func(*engine.Conn) int                                = (*engine.Conn).OutboundBuffered
	_ func(*engine.Conn)                                    = (*engine.Conn).PauseRead
	_ func(*engine.Conn)                                    = (*engine.Conn).ResumeRead
	_ func(*engine.Conn, time.Time)                         = (*engine.Conn).SetReadDeadline
	_ func(*engine.Conn, time.Time)                         = (*engine.Conn).SetWriteDeadline
	_ func(*engine.Conn, []byte) (int, error)               = (*engine.Conn).Write
	_ func(*engine.Conn, string) (int, error)               = (*engine.Conn).WriteString
	_ func(*engine.Conn, [][]byte) (int, error)             = (*engine.Conn).Writev
	_ func(*engine.Conn, []byte, func(bool)) error          = (*engine.Conn).WriteOwned
	_ func(*engine.Conn) error                              = (*engine.Conn).Flush
	_ func(*engine.Conn, []byte, func(error)) error         = (*engine.Conn).AsyncWrite
	_ func(*engine.Conn, [][]byte, func(error)) error       = (*engine.Conn).AsyncWritev
	_ func(*engine.Conn) error                              = (*engine.Conn).Close
	_ func(*engine.Conn) error                              = (*engine.Conn).CloseWrite
	_ func(*engine.Conn)                                    = (*engine.Conn).Abort
	_ func(*engine.Conn) error                              = (*engine.Conn).NotifyWritable
	_ func(*engine.Conn, int, int)                          = (*engine.Conn).CountBytes
	_ func(*engine.Conn)                                    = (*engine.Conn).YieldToWoken
	_ func(engine.Handle) uint64                            = engine.Handle.ID
	_ func(engine.Handle, []byte, func(error)) error        = engine.Handle.AsyncWrite
	_ func(engine.Handle, [][]byte, func(error)) error      = engine.Handle.AsyncWritev
	_ func(engine.Handle, func(*engine.Conn)) error         = engine.Handle.Do
	_ func(engine.Handle) error                             = engine.Handle.Close
	_ func(engine.Handle) error                             = engine.Handle.Abort
	_ func(engine.Handle) error                             = engine.Handle.Wake
	_ engine.Handler                                        = engine.BaseHandler{}
	_ func(int) engine.Option                               = engine.WithShards
	_ func(bool) engine.Option                              = engine.WithPinning
	_ func(balancer.Balancer) engine.Option                 = engine.WithBalancer
	_ func(bool) engine.Option                              = engine.WithReusePort
	_ func(bool) engine.Option                              = engine.WithNoDelay
	_ func(time.Duration) engine.Option                     = engine.WithKeepAlive
	_ func(time.Duration) engine.Option                     = engine.WithUserTimeout
	_ func(int, int) engine.Option                          = engine.WithSocketBuffers
	_ func(int) engine.Option                               = engine.WithReadBufferSize
	_ func(int) engine.Option                               = engine.WithReadBudget
	_ func(int) engine.Option                               = engine.WithMaxInbound
	_ func(int, int) engine.Option                          = engine.WithWatermarks
	_ func(engine.WaterMode) engine.Option                  = engine.WithWaterMode
	_ func(int) engine.Option                               = engine.WithMaxQueuedOutput
	_ func(time.Duration) engine.Option                     = engine.WithIdleTimeout
	_ func(time.Duration) engine.Option                     = engine.WithLingerTimeout
	_ func(int) engine.Option                               = engine.WithMaxConns
	_ func(bool) engine.Option                              = engine.WithEdgeTriggered
	_ func(time.Duration) engine.Option                     = engine.WithBusyPoll
	_ func(bool) engine.Option                              = engine.WithRuntimeWait
	_ func(time.Duration) engine.Option                     = engine.WithTick
	_ func(time.Duration) engine.Option                     = engine.WithLagSampling
	_ func(time.Duration, func(*engine.Conn)) engine.Option = engine.WithHeartbeat
	_ func(int, int) engine.Option                          = engine.WithOffloadPool
	_ func(int) engine.Option                               = engine.WithBlockSize
	_ func(*slog.Logger) engine.Option                      = engine.WithLogger
	_ func(int) engine.DialOption                           = engine.OnShard
	_ func(time.Duration) engine.DialOption                 = engine.DialTimeout
	_ func(engine.Handler) engine.DialOption                = engine.DialHandler
	_                                                       = engine.Stats{Shards: []engine.ShardStats{{}}, Refused: 0, TLSRefused: 0, TLSFailed: 0, TLSHandshakes: 0, TLSHandshakeCPU: 0, TLSHandshakesDeferred: 0, ProxyFailed: 0}
	_                                                       = engine.ShardStats{TasksRun: 0, LagSamples: engine.LagHistogram{Bounds: []time.Duration{}, Counts: []uint64{}, Count: 0, Sum: 0}}
	_ []error                                               = []error{
		engine.ErrEngineStopped, engine.ErrConnClosed, engine.ErrPeerClosed, engine.ErrLocalClose,
		engine.ErrAborted, engine.ErrRejected, engine.ErrTooManyConns, engine.ErrOutputFull,
		engine.ErrInboundFull, engine.ErrNotEnough, engine.ErrPanic, engine.ErrUnknownConn,
		engine.ErrInvalidOption, engine.ErrOffloadFull, engine.ErrUnsupported, engine.ErrTimeout,
		engine.ErrUnknownListener, engine.ErrNotOnShard, engine.ErrTLS, engine.ErrTLSTruncated, engine.ErrTLSBusy, engine.ErrNotForTLS,
		engine.ErrProxyHeader,
	}
)

// Encoders write to a Conn through codec's sink interfaces.
var _ codec.VectorSink = (*engine.Conn)(nil)

// The per-connection controls.
var (
	_ func(*engine.Conn, int, int, engine.WaterMode) error = (*engine.Conn).SetWatermarks
	_ func(*engine.Conn) (int, int, engine.WaterMode)      = (*engine.Conn).Watermarks
	_ func(*engine.Conn, time.Duration, bool)              = (*engine.Conn).SetIdleTimeout
	_                                                      = []engine.WaterMode{engine.WaterPause, engine.WaterNotify}
	_ engine.WaterNotifier                                 = waterNotifier{}
)

// TLS: per-listener and per-dial options, the engine's handshake bounds,
// the connection's state, and the hook for handshakes that failed.
var (
	_ func(*tls.Config) engine.ListenOption          = engine.ListenTLS
	_ func(*tls.Config) engine.DialOption            = engine.DialTLS
	_ func(int) engine.Option                        = engine.WithMaxHandshakes
	_ func(int) engine.Option                        = engine.WithHandshakeCPU
	_ func(float64) engine.Option                    = engine.WithHandshakeShare
	_ func(time.Duration) engine.Option              = engine.WithHandshakeTimeout
	_ func(*engine.Conn) (tls.ConnectionState, bool) = (*engine.Conn).TLS
	_ func(engine.Handle) error                      = engine.Handle.ResumeRead
	_ engine.HandshakeFailNotifier                   = handshakeFailNotifier{}
)

// PROXY protocol on a listener.
var _ func(bool) engine.ListenOption = engine.ListenProxyProto

// Rate limits: per connection and per group.
var (
	_                                                                                 = engine.RateLimit{Rate: 1, Burst: 1, Tick: time.Second}
	_ func(engine.RateLimit, engine.RateLimit) (*engine.RateGroup, error)             = engine.NewRateGroup
	_ func(*engine.Conn, engine.RateLimit, engine.RateLimit) error                    = (*engine.Conn).SetRateLimit
	_ func(*engine.Conn, *engine.RateGroup)                                           = (*engine.Conn).SetRateGroup
	_ func(engine.RateLimit, engine.RateLimit, *engine.RateGroup) engine.ListenOption = engine.ListenRateLimit
)

type handshakeFailNotifier struct{ engine.BaseHandler }

func (handshakeFailNotifier) OnHandshakeFail(*engine.Conn, error) {}

// The datagram API.
var (
	_ func(*engine.Engine, string, engine.PacketHandler, ...engine.PacketOption) (*engine.PacketListener, error) = (*engine.Engine).ListenPacket
	_ func(*engine.Engine, string, engine.PacketHandler, ...engine.PacketOption) (*engine.PacketConn, error)     = (*engine.Engine).DialPacket

	_ func(*engine.PacketConn) int                                        = (*engine.PacketConn).Shard
	_ func(*engine.PacketConn) netip.AddrPort                             = (*engine.PacketConn).LocalAddr
	_ func(*engine.PacketConn) netip.AddrPort                             = (*engine.PacketConn).RemoteAddr
	_ func(*engine.PacketConn) any                                        = (*engine.PacketConn).Context
	_ func(*engine.PacketConn, any)                                       = (*engine.PacketConn).SetContext
	_ func(*engine.PacketConn) bool                                       = (*engine.PacketConn).Closed
	_ func(*engine.PacketConn) *engine.Session                            = (*engine.PacketConn).Session
	_ func(*engine.PacketConn) bool                                       = (*engine.PacketConn).GSO
	_ func(*engine.PacketConn) bool                                       = (*engine.PacketConn).GRO
	_ func(*engine.PacketConn, []byte, netip.AddrPort) error              = (*engine.PacketConn).WriteTo
	_ func(*engine.PacketConn, []byte) error                              = (*engine.PacketConn).Write
	_ func(*engine.PacketConn, []byte, netip.AddrPort, func(error)) error = (*engine.PacketConn).AsyncWriteTo
	_ func(*engine.PacketConn) error                                      = (*engine.PacketConn).Flush
	_ func(*engine.PacketConn) int                                        = (*engine.PacketConn).Queued
	_ func(*engine.PacketConn) error                                      = (*engine.PacketConn).Close
	_ func(*engine.PacketListener) net.Addr                               = (*engine.PacketListener).Addr
	_ func(*engine.PacketListener) []*engine.PacketConn                   = (*engine.PacketListener).Conns
	_ func(*engine.PacketListener) error                                  = (*engine.PacketListener).Close
	_ func(*engine.Session) netip.AddrPort                                = (*engine.Session).Peer
	_ func(*engine.Session) *engine.PacketConn                            = (*engine.Session).Conn
	_ func(*engine.Session) any                                           = (*engine.Session).Context
	_ func(*engine.Session, any)                                          = (*engine.Session).SetContext
	_ func(*engine.Session) bool                                          = (*engine.Session).Closed
	_ func(*engine.Session, []byte) error                                 = (*engine.Session).Write
	_ func(*engine.Session)                                               = (*engine.Session).Close
	_ func(time.Duration, int) engine.PacketOption                        = engine.WithSessions
	_ func(int) engine.PacketOption                                       = engine.OnPacketShard
	_ func(bool, bool) engine.Option                                      = engine.WithPacketOffload
	_ func(int, int) engine.Option                                        = engine.WithPacketBatch
	_ func(int) engine.Option                                             = engine.WithPacketQueue
	_                                                                     = engine.ShardStats{Packets: engine.PacketStats{}}
	_                                                                     = []error{engine.ErrDatagramTooLarge, engine.ErrAddressFamily}
	_ engine.PacketHandler                                                = packetHandler{}
	_ engine.PacketErrorHandler                                           = packetHandler{}
	_ engine.SessionHandler                                               = packetHandler{}
)

type packetHandler struct{}

func (packetHandler) OnDatagram(*engine.PacketConn, []byte, netip.AddrPort) {}
func (packetHandler) OnPacketError(*engine.PacketConn, error)               {}
func (packetHandler) OnSessionOpen(*engine.Session) error                   { return nil }
func (packetHandler) OnSessionClose(*engine.Session, error)                 {}

type waterNotifier struct{ engine.BaseHandler }

func (waterNotifier) OnHighWater(*engine.Conn) {}
func (waterNotifier) OnLowWater(*engine.Conn)  {}

// Adopting listening sockets and handing them over (listen_inherit.go).
var (
	_ func(*engine.Engine, []*os.File, ...engine.ListenOption) (net.Addr, error) = (*engine.Engine).ListenFiles
	_ func(*engine.Engine) ([]*os.File, error)                                   = (*engine.Engine).ListenerFiles
	_                                                                            = engine.ErrNotListener
)
