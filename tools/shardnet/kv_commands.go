//go:build linux

package main

import (
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/shardnet/shardnet/codec"
)

// kvCommand is one entry of the command table.
type kvCommand struct {
	// name is the lower-case name, as Redis shows it in errors.
	name string
	// arity is Redis's: n means exactly n words with the name, -n at least
	// n.
	arity int
	// run appends the reply. The arity was checked before.
	run func(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte
}

// kvMaxNameLen is the longest command name in the table; longer names
// are unknown without a lookup.
const kvMaxNameLen = 16

// kvCommandTable returns the commands by lower-case name. The replies and
// error texts are Redis 7's, so clients and scripts see no difference.
func kvCommandTable() map[string]kvCommand {
	cmds := []kvCommand{
		{"ping", -1, kvPing},
		{"echo", 2, func(_ *kvHandler, out []byte, _ *kvShard, args [][]byte) []byte {
			return codec.AppendBulk(out, args[1])
		}},
		{"quit", -1, nil}, // exec answers and closes
		{"select", 2, kvSelect},
		{"set", -3, kvSet},
		{"get", 2, kvGet},
		{"del", -2, kvDel},
		{"exists", -2, kvExists},
		{"incr", 2, kvIncr(1)},
		{"decr", 2, kvIncr(-1)},
		{"incrby", 3, kvIncr(1)},
		{"decrby", 3, kvIncr(-1)},
		{"mget", -2, kvMGet},
		{"mset", -3, kvMSet},
		{"expire", -3, kvExpire},
		{"ttl", 2, kvTTL(1000)},
		{"pttl", 2, kvTTL(1)},
		{"persist", 2, kvPersist},
		{"dbsize", 1, kvDBSize},
		{"flushall", -1, kvFlushAll},
		{"config", -2, kvConfig},
		{"command", -1, kvCommandCmd},
	}
	m := make(map[string]kvCommand, len(cmds))
	for _, c := range cmds {
		if len(c.name) > kvMaxNameLen {
			panic("kv: command name longer than kvMaxNameLen: " + c.name)
		}
		m[c.name] = c
	}
	return m
}

// Redis's error texts.
const (
	kvErrNotInt     = "ERR value is not an integer or out of range"
	kvErrSyntax     = "ERR syntax error"
	kvErrOverflow   = "ERR increment or decrement would overflow"
	kvErrDBIndex    = "ERR DB index is out of range"
	kvErrExpireFlag = "ERR NX and XX, GT or LT options at the same time are not compatible"
	kvErrGTLT       = "ERR GT and LT options at the same time are not compatible"
)

// kvUnknown appends Redis's reply to an unknown command, which quotes the
// name and the first arguments, up to about 128 bytes.
func kvUnknown(out []byte, args [][]byte) []byte {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(args[0][:min(len(args[0]), 128)])
	b.WriteString("', with args beginning with: ")
	shown := 0
	for _, a := range args[1:] {
		if shown >= 128 {
			break
		}
		a = a[:min(len(a), 128-shown)]
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
		shown += len(a) + 3
	}
	return codec.AppendError(out, b.String())
}

// kvWrongArgs appends Redis's arity error for the command called name.
func kvWrongArgs(out []byte, name string) []byte {
	return codec.AppendError(out, "ERR wrong number of arguments for '"+name+"' command")
}

// kvParseInt parses b as Redis's string2ll does: an optional minus sign and
// decimal digits, no leading zeros (but "0"), no plus sign or spaces, and
// no overflow.
func kvParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true // -(1<<63) wraps to MinInt64, which is right
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

// kvPing is PING [message].
func kvPing(_ *kvHandler, out []byte, _ *kvShard, args [][]byte) []byte {
	switch len(args) {
	case 1:
		return codec.AppendSimpleString(out, "PONG")
	case 2:
		return codec.AppendBulk(out, args[1])
	}
	return kvWrongArgs(out, "ping")
}

// kvSelect is SELECT index; only database 0 exists.
func kvSelect(_ *kvHandler, out []byte, _ *kvShard, args [][]byte) []byte {
	n, ok := kvParseInt(args[1])
	switch {
	case !ok:
		return codec.AppendError(out, kvErrNotInt)
	case n != 0:
		return codec.AppendError(out, kvErrDBIndex)
	}
	return codec.AppendSimpleString(out, "OK")
}

// kvGet is GET key.
func kvGet(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	st := &h.store.stripes[h.store.stripeOf(args[1])]
	st.mu.Lock()
	if e := st.get(args[1], &sh.clk); e != nil {
		out = codec.AppendBulk(out, e.val)
	} else {
		out = codec.AppendNull(out)
	}
	st.mu.Unlock()
	return out
}

// kvSet is SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]. Options are
// checked for syntax before the expire time is parsed, in Redis's order,
// so the same bad command gets the same error.
func kvSet(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	var nx, xx, get, keepTTL bool
	var expArg []byte
	var unit int64
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case kvIs(a, "nx") && !xx:
			nx = true
		case kvIs(a, "xx") && !nx:
			xx = true
		case kvIs(a, "get"):
			get = true
		case kvIs(a, "keepttl") && expArg == nil:
			keepTTL = true
		case (kvIs(a, "ex") || kvIs(a, "px")) && !keepTTL && expArg == nil && i+1 < len(args):
			expArg, unit = args[i+1], 1
			if kvIs(a, "ex") {
				unit = 1000
			}
			i++
		default:
			return codec.AppendError(out, kvErrSyntax)
		}
	}
	var exp int64
	if expArg != nil {
		var errMsg string
		if exp, errMsg = kvDeadline(expArg, unit, "set", &sh.clk); errMsg != "" {
			return codec.AppendError(out, errMsg)
		}
		if exp <= sh.clk.now() {
			return codec.AppendError(out, "ERR invalid expire time in 'set' command")
		}
	}
	key := args[1]
	st := &h.store.stripes[h.store.stripeOf(key)]
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.get(key, &sh.clk)
	if get {
		if old != nil {
			out = codec.AppendBulk(out, old.val)
		} else {
			out = codec.AppendNull(out)
		}
	}
	if nx && old != nil || xx && old == nil {
		if get {
			return out
		}
		return codec.AppendNull(out)
	}
	st.set(key, args[2], exp, keepTTL, &sh.clk)
	if get {
		return out
	}
	return codec.AppendSimpleString(out, "OK")
}

// kvDeadline turns an expire argument in unit milliseconds into an
// absolute deadline in Unix milliseconds, or returns Redis's error text.
// A deadline at or before now means "already expired"; the caller decides
// what that means for its command.
func kvDeadline(arg []byte, unit int64, cmd string, clk *kvClock) (int64, string) {
	v, ok := kvParseInt(arg)
	if !ok {
		return 0, kvErrNotInt
	}
	invalid := "ERR invalid expire time in '" + cmd + "' command"
	if v > math.MaxInt64/unit || v < math.MinInt64/unit {
		return 0, invalid
	}
	v *= unit
	now := clk.now()
	if v > math.MaxInt64-now {
		return 0, invalid
	}
	return now + v, ""
}

// kvDel is DEL key [key ...], atomic over its keys; it counts the keys deleted.
func kvDel(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	keys := args[1:]
	sh.idx = h.store.lockKeys(keys, 1, sh.idx)
	n := 0
	for _, k := range keys {
		if h.store.stripes[h.store.stripeOf(k)].del(k, &sh.clk) {
			n++
		}
	}
	h.store.unlockAll(sh.idx)
	return codec.AppendInt(out, int64(n))
}

// kvExists is EXISTS key [key ...]; a key named twice counts twice, as in Redis.
func kvExists(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	keys := args[1:]
	sh.idx = h.store.lockKeys(keys, 1, sh.idx)
	n := 0
	for _, k := range keys {
		if h.store.stripes[h.store.stripeOf(k)].get(k, &sh.clk) != nil {
			n++
		}
	}
	h.store.unlockAll(sh.idx)
	return codec.AppendInt(out, int64(n))
}

// kvIncr makes INCR and DECR (sign only) and INCRBY and DECRBY (sign times
// the argument). The key keeps its TTL, as in Redis.
func kvIncr(sign int64) func(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	return func(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
		delta := sign
		if len(args) == 3 {
			d, ok := kvParseInt(args[2])
			if !ok {
				return codec.AppendError(out, kvErrNotInt)
			}
			if sign < 0 {
				if d == math.MinInt64 {
					return codec.AppendError(out, "ERR decrement would overflow")
				}
				d = -d
			}
			delta = d
		}
		key := args[1]
		st := &h.store.stripes[h.store.stripeOf(key)]
		st.mu.Lock()
		defer st.mu.Unlock()
		var cur int64
		if e := st.get(key, &sh.clk); e != nil {
			var ok bool
			if cur, ok = kvParseInt(e.val); !ok {
				return codec.AppendError(out, kvErrNotInt)
			}
		}
		if delta > 0 && cur > math.MaxInt64-delta || delta < 0 && cur < math.MinInt64-delta {
			return codec.AppendError(out, kvErrOverflow)
		}
		cur += delta
		var num [20]byte
		st.set(key, strconv.AppendInt(num[:0], cur, 10), 0, true, &sh.clk)
		return codec.AppendInt(out, cur)
	}
}

// kvMGet is MGET key [key ...], one moment's values: its stripes are locked together.
func kvMGet(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	keys := args[1:]
	sh.idx = h.store.lockKeys(keys, 1, sh.idx)
	out = codec.AppendArray(out, len(keys))
	for _, k := range keys {
		if e := h.store.stripes[h.store.stripeOf(k)].get(k, &sh.clk); e != nil {
			out = codec.AppendBulk(out, e.val)
		} else {
			out = codec.AppendNull(out)
		}
	}
	h.store.unlockAll(sh.idx)
	return out
}

// kvMSet sets every pair atomically: all the stripes involved are locked
// (in ascending order) before the first key is written.
func kvMSet(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return kvWrongArgs(out, "mset")
	}
	kv := args[1:]
	sh.idx = h.store.lockKeys(kv, 2, sh.idx)
	for i := 0; i < len(kv); i += 2 {
		h.store.stripes[h.store.stripeOf(kv[i])].set(kv[i], kv[i+1], 0, false, &sh.clk)
	}
	h.store.unlockAll(sh.idx)
	return codec.AppendSimpleString(out, "OK")
}

// kvExpire is EXPIRE key seconds [NX|XX|GT|LT], in Redis 7's order of
// checks. A deadline already past deletes the key.
func kvExpire(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch {
		case kvIs(a, "nx"):
			nx = true
		case kvIs(a, "xx"):
			xx = true
		case kvIs(a, "gt"):
			gt = true
		case kvIs(a, "lt"):
			lt = true
		default:
			return codec.AppendError(out, "ERR Unsupported option "+string(a))
		}
	}
	switch {
	case nx && (xx || gt || lt):
		return codec.AppendError(out, kvErrExpireFlag)
	case gt && lt:
		return codec.AppendError(out, kvErrGTLT)
	}
	exp, errMsg := kvDeadline(args[2], 1000, "expire", &sh.clk)
	if errMsg != "" {
		return codec.AppendError(out, errMsg)
	}
	key := args[1]
	st := &h.store.stripes[h.store.stripeOf(key)]
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.get(key, &sh.clk)
	if e == nil {
		return codec.AppendInt(out, 0)
	}
	cur := e.exp // 0: none, which GT and LT treat as infinite
	if nx && cur != 0 || xx && cur == 0 || gt && (cur == 0 || exp <= cur) || lt && cur != 0 && exp >= cur {
		return codec.AppendInt(out, 0)
	}
	if exp <= sh.clk.now() {
		st.del(key, &sh.clk)
	} else {
		st.setExp(key, e, exp)
	}
	return codec.AppendInt(out, 1)
}

// kvTTL makes TTL (unit 1000: seconds, rounded as Redis does) and PTTL.
func kvTTL(unit int64) func(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	return func(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
		st := &h.store.stripes[h.store.stripeOf(args[1])]
		st.mu.Lock()
		defer st.mu.Unlock()
		e := st.get(args[1], &sh.clk)
		switch {
		case e == nil:
			return codec.AppendInt(out, -2)
		case e.exp == 0:
			return codec.AppendInt(out, -1)
		}
		ttl := max(e.exp-sh.clk.now(), 0)
		return codec.AppendInt(out, (ttl+unit/2)/unit)
	}
}

// kvPersist is PERSIST key: it drops the key's TTL.
func kvPersist(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	st := &h.store.stripes[h.store.stripeOf(args[1])]
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.get(args[1], &sh.clk)
	if e == nil || e.exp == 0 {
		return codec.AppendInt(out, 0)
	}
	st.setExp(args[1], e, 0)
	return codec.AppendInt(out, 1)
}

// kvDBSize counts the keys under every stripe's lock, so the count is one
// moment's. Like Redis it counts keys that expired but were not yet freed.
func kvDBSize(h *kvHandler, out []byte, sh *kvShard, _ [][]byte) []byte {
	sh.idx = h.store.lockAll(sh.idx)
	n := 0
	for i := range h.store.stripes {
		n += len(h.store.stripes[i].m)
	}
	h.store.unlockAll(sh.idx)
	return codec.AppendInt(out, int64(n))
}

// kvFlushAll is FLUSHALL [ASYNC|SYNC]: new maps under every lock, so the old memory is freed.
func kvFlushAll(h *kvHandler, out []byte, sh *kvShard, args [][]byte) []byte {
	if len(args) > 2 || len(args) == 2 && !kvIs(args[1], "async") && !kvIs(args[1], "sync") {
		return codec.AppendError(out, kvErrSyntax)
	}
	sh.idx = h.store.lockAll(sh.idx)
	for i := range h.store.stripes {
		st := &h.store.stripes[i]
		st.m = make(map[string]*kvEntry)
		st.volatile = make(map[string]*kvEntry)
	}
	h.store.unlockAll(sh.idx)
	return codec.AppendSimpleString(out, "OK")
}

// kvConfigParams are the parameters CONFIG GET reports: those
// redis-benchmark asks for before it starts, with the values that describe
// this server (no persistence).
var kvConfigParams = [...]struct{ name, value string }{
	{"save", ""},
	{"appendonly", "no"},
	{"databases", "1"},
}

// kvConfig is CONFIG GET pattern [pattern ...]; other subcommands are
// unknown.
func kvConfig(_ *kvHandler, out []byte, _ *kvShard, args [][]byte) []byte {
	if !kvIs(args[1], "get") {
		return kvUnknownSub(out, args[1], "CONFIG")
	}
	if len(args) < 3 {
		return kvWrongArgs(out, "config|get")
	}
	var found []int
	for _, pat := range args[2:] {
		p := strings.ToLower(string(pat))
		for i, kv := range kvConfigParams {
			if ok, _ := path.Match(p, kv.name); ok && !containsInt(found, i) {
				found = append(found, i)
			}
		}
	}
	out = codec.AppendArray(out, 2*len(found))
	for _, i := range found {
		out = codec.AppendBulkString(out, kvConfigParams[i].name)
		out = codec.AppendBulkString(out, kvConfigParams[i].value)
	}
	return out
}

// containsInt reports whether v is in s.
func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// kvCommandCmd answers COMMAND the way redis-cli and redis-benchmark can
// live with: an empty command table (they fall back to their built-in
// help), a count of 0, and no docs.
func kvCommandCmd(_ *kvHandler, out []byte, _ *kvShard, args [][]byte) []byte {
	if len(args) == 1 {
		return codec.AppendArray(out, 0)
	}
	switch {
	case kvIs(args[1], "count"):
		return codec.AppendInt(out, 0)
	case kvIs(args[1], "docs"), kvIs(args[1], "list"):
		return codec.AppendArray(out, 0)
	case kvIs(args[1], "info"):
		out = codec.AppendArray(out, len(args)-2)
		for range args[2:] {
			out = codec.AppendNullArray(out)
		}
		return out
	}
	return kvUnknownSub(out, args[1], "COMMAND")
}

// kvUnknownSub appends Redis's reply to an unknown subcommand.
func kvUnknownSub(out []byte, sub []byte, cmd string) []byte {
	return codec.AppendError(out, "ERR unknown subcommand '"+string(sub[:min(len(sub), 128)])+"'. Try "+cmd+" HELP.")
}

// kvIs reports whether b is word, ignoring ASCII case (word is lower case).
func kvIs(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}
