// Package relay is a TCP (layer 4) relay on the engine: it pairs every
// accepted client with a connection to a backend, dialed onto the client's
// own shard, and moves bytes both ways until both sides are done. On top of
// the pairing it keeps the parts of a real L4 proxy: pools of backends with
// a balancing policy, connect timeouts with a retry on the next backend,
// passive ejection, active health checks, and a graceful drain.
//
// The name: what the package does to a connection is relay it. "proxy"
// would name the whole program (its flags, its listeners, its signals),
// which stays in tools/shardnet; the package is the part a program imports
// to relay, whether it is an L4 proxy, a gateway or a sidecar. It lives
// under engine/ beside the other layers over an engine.Conn (netconn,
// netpollconn), and imports engine, balancer and codec/proxyproto (for
// WithSendProxy) only.
//
// # Threading model
//
// A pair's two connections live on one shard, so the shard's thread alone
// touches the pair: no locks on the data path. The Proxy is the engine's
// Handler for the clients and the Dial handler of the backends' side. What
// other goroutines may call is marked "any goroutine" (Stats, Drain, the
// Pool's Stats); everything else is loop only.
//
// # Back-pressure
//
// Both connections of a pair get the engine's notify-mode watermarks:
// engine-wide when the engine is made with the Proxy's EngineOptions
// (engine.WithWaterMode), else engine.Conn.SetWatermarks with
// engine.WaterNotify on each. When one side's
// queued output passes its high mark, the engine tells the Proxy
// (OnHighWater) and the relay pauses reading the other side, the one that
// feeds it; when the output is back to the low mark (OnLowWater) reading
// resumes. The engine counts the bytes; the relay only decides whom to
// pause. A pair's user-space memory is thus bounded by about the high mark
// plus one read per direction, whatever the speed gap between the ends.
//
//	client ──read──> [backend's queue] ──> backend
//	   ^ paused while the backend's queue is above high, resumed at low
//	client <── [client's queue] <──read── backend
//	                                        ^ paused while the client's queue is above high
//
// # Lifecycle of a pair
//
//	OnOpen ──(Router: sniffing, reading the head)──> dialing (client paused)
//	   dialing ──refused/timed out──> eject the backend, dial the next one
//	   dialing ──none left──> client closed (ErrNoBackend)
//	   dialing ──connected──> relaying ──both EOFs passed on──> closing both
//	   relaying ──either side fails──> the other one is aborted
//
// A half-close is passed on: the client's EOF becomes a shutdown(SHUT_WR)
// to the backend once what came before it is sent, and the other way too.
//
// # Splice
//
// WithSplice(true) moves bulk bytes socket -> pipe -> socket in the kernel
// (splice(2), Linux) when both sides are plaintext sockets; small messages
// stay on the copy path (see splice_linux.go). Splice is impossible when
// either side is TLS, since the bytes must pass through user space to be
// decrypted or encrypted: a pair with a TLS side relays by copy.
//
// # TLS
//
// The relay works on engine.Conn, so TLS needs nothing of its own:
// termination is the listener's (engine.ListenTLS; the Proxy sees the
// decrypted stream), origination is WithDialOptions(engine.DialTLS(cfg))
// on a Pool, and a pair with a TLS side relays by copy even under
// WithSplice (its sockets carry records, which must be opened and sealed
// in user space). shardnet proxy -tls and -backend-tls do both.
//
// # Example
//
//	pool, _ := relay.NewPool([]string{"127.0.0.1:7001", "127.0.0.1:7002"},
//		relay.WithPolicy("lc"), relay.WithHealthCheck(relay.HealthCheck{Interval: time.Second}))
//	px, _ := relay.New(relay.WithPool(pool))
//	e, _ := engine.Serve(px, []string{"127.0.0.1:8000"}, px.EngineOptions()...)
//	...
//	px.Drain(ctx) // stop accepting, wait for the pairs to finish
//	e.Stop(ctx)
package relay
