// Package handlers holds the engine handlers that the shardnet command and
// the benchmark's shardnet peer (benchmarks/cmd/peer-shardnet) share, so
// that what the benchmark measures is what the command runs.
//
// [Echo] writes back every byte it reads, in order, and closes once the
// peer has half-closed and the echoed bytes are out.
//
// A handler's callbacks run on the connection's shard, as every
// engine.Handler's do, and keep no state of their own: the zero value is
// ready, and one value may serve any number of connections and engines.
//
//	e, err := engine.Serve(handlers.Echo{}, []string{"tcp://127.0.0.1:7000"})
//	if err != nil {
//		return err
//	}
//	defer e.Stop(context.Background())
package handlers
