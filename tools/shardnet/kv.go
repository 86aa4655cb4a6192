//go:build linux

package main

import (
	"errors"
	"io"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// kvSweepEvery is how often each shard sweeps its share of the stripes for
// expired keys (Redis's active expiry runs 10 times a second too).
const kvSweepEvery = 100 * time.Millisecond

// kvShard is what one shard reuses for every command: the parsed command,
// the reply buffer, stripe scratch and the command's clock. A callback
// finishes with them before the next one runs. Loop only.
type kvShard struct {
	cmd   codec.Command
	out   []byte
	idx   []int
	lower []byte // the command name in lower case, for the table lookup
	clk   kvClock
	_     [64]byte
}

// kvHandler serves RESP commands over a kvStore. Replies to all commands
// of one read leave in one write.
type kvHandler struct {
	engine.BaseHandler
	dec    *codec.RESPDecoder
	store  *kvStore
	cmds   map[string]kvCommand // by lower-case name; read only
	shards []kvShard            // indexed by Conn.Shard; made by OnBoot
}

// newKVHandler makes a handler with an empty keyspace; OnBoot makes its
// per-shard state, once the engine's shard count is known.
func newKVHandler() *kvHandler {
	dec, err := codec.NewRESPDecoder(codec.RESPLimits{})
	if err != nil {
		panic("kv: default RESP limits rejected: " + err.Error())
	}
	return &kvHandler{dec: dec, store: newKVStore(), cmds: kvCommandTable()}
}

// OnBoot makes the state of each of the engine's shards. It runs before
// the first connection and the first tick, so every OnTraffic and OnTick
// finds its shard's state there.
func (h *kvHandler) OnBoot(e *engine.Engine) error {
	h.makeShards(e.Shards())
	return nil
}

// makeShards makes the state of n shards.
func (h *kvHandler) makeShards(n int) {
	h.shards = make([]kvShard, n)
	for i := range h.shards {
		h.shards[i].out = make([]byte, 0, replyScratch)
		h.shards[i].idx = make([]int, 0, kvStripes)
	}
}

// OnTick sweeps this shard's share of the stripes for expired keys.
func (h *kvHandler) OnTick(shard int) { h.store.sweep(shard, len(h.shards)) }

// OnTraffic runs every complete command buffered, in order.
func (h *kvHandler) OnTraffic(c *engine.Conn) {
	sh := &h.shards[c.Shard()]
	for {
		out, v := h.serve(c, sh)
		if !sendReplies(c, out, &sh.out) {
			return
		}
		switch v {
		case kvFull:
			continue
		case kvClose:
			c.Close()
		}
		return
	}
}

// kvVerdict is what serve leaves the connection in.
type kvVerdict uint8

const (
	kvIdle  kvVerdict = iota // every complete command run; wait for more
	kvFull                   // the batch is full: write it and call serve again
	kvClose                  // write the batch and close
)

// serve runs the complete commands buffered in src and consumes them,
// returning the replies (in sh.out's memory). It runs over any codec.Source
// so it can be tested without sockets.
func (h *kvHandler) serve(src codec.Source, sh *kvShard) ([]byte, kvVerdict) {
	out := sh.out[:0]
	for len(out) < replyMaxBatch {
		n, err := h.dec.Decode(src, &sh.cmd)
		if errors.Is(err, codec.ErrNeedMore) {
			return out, kvIdle
		}
		if err != nil {
			// The stream cannot be framed any more: say why, as Redis
			// does, and close this connection only.
			return codec.AppendError(out, "ERR Protocol error: "+err.Error()), kvClose
		}
		var quit bool
		if len(sh.cmd.Args) > 0 {
			sh.clk = kvClock{read: h.store.now}
			out, quit = h.exec(out, sh, sh.cmd.Args)
		}
		src.Discard(n)
		if quit {
			return out, kvClose
		}
	}
	return out, kvFull
}

// exec runs one command and appends its reply. quit asks for the
// connection to close after the reply.
func (h *kvHandler) exec(out []byte, sh *kvShard, args [][]byte) (_ []byte, quit bool) {
	name := args[0]
	if len(name) > kvMaxNameLen {
		return kvUnknown(out, args), false
	}
	sh.lower = sh.lower[:0]
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		sh.lower = append(sh.lower, b)
	}
	cmd, ok := h.cmds[string(sh.lower)]
	if !ok {
		return kvUnknown(out, args), false
	}
	if cmd.arity > 0 && len(args) != cmd.arity || cmd.arity < 0 && len(args) < -cmd.arity {
		return kvWrongArgs(out, cmd.name), false
	}
	if cmd.name == "quit" {
		return codec.AppendSimpleString(out, "OK"), true
	}
	return cmd.run(h, out, sh, args), false
}

// nowMilli is the wall clock in Unix milliseconds, the unit of kvEntry.exp
// (and of Redis's deadlines).
func nowMilli() int64 { return time.Now().UnixMilli() }

// kvAddr is the kv command's default address: next to Redis's 6379, so
// both can run on one machine.
const kvAddr = "127.0.0.1:6380"

// runKV is the kv command.
func runKV(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	fs := newFlagSet("kv", `RESP (Redis protocol) key-value server over a sharded in-memory map:
PING ECHO SET (EX PX NX XX KEEPTTL GET) GET DEL EXISTS INCR DECR INCRBY DECRBY
MGET MSET EXPIRE TTL PTTL PERSIST DBSIZE FLUSHALL SELECT QUIT, and the CONFIG GET
and COMMAND replies redis-cli and redis-benchmark ask for. Keys with a TTL
expire on access and in a sweep ten times a second.`, `  shardnet kv                                           # 127.0.0.1:6380, GOMAXPROCS shards
  shardnet kv -addr :6380 -shards 4 -pin -reuseport     # 4 pinned shards, kernel balancing
  redis-cli -p 6380 SET greeting hello EX 60            # try it
  redis-benchmark -p 6380 -t ping,set,get,incr,mset -q  # load it
`, stderr)
	sf.register(fs, kvAddr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	h := newKVHandler()
	return serve("kv", &sf, h, []engine.Option{engine.WithTick(kvSweepEvery)}, stdout, stderr)
}
