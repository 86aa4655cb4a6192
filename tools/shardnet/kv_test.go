//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
)

// bootedKV makes a kv handler with the state of n shards, as OnBoot makes
// it for an engine of n shards, for tests that drive it without one.
func bootedKV(n int) *kvHandler {
	h := newKVHandler()
	h.makeShards(n)
	return h
}

// kvRun feeds in to a kv handler's request path in pieces of chunk bytes
// (0: whole) and returns the replies and whether the connection was
// closed.
func kvRun(h *kvHandler, sh *kvShard, in string, chunk int) (string, bool) {
	src := codec.NewBytes(nil)
	var got []byte
	if chunk <= 0 {
		chunk = len(in)
	}
	for off := 0; off < len(in); off += chunk {
		src.Write([]byte(in[off:min(off+chunk, len(in))]))
		for {
			out, v := h.serve(src, sh)
			got = append(got, out...)
			sh.out = out[:0]
			if v == kvClose {
				return string(got), true
			}
			if v != kvFull {
				break
			}
		}
	}
	return string(got), false
}

// respCmd encodes a command as clients send it.
func respCmd(args ...string) string {
	var bs [][]byte
	for _, a := range args {
		bs = append(bs, []byte(a))
	}
	return string(codec.AppendCommand(nil, bs...))
}

func TestKVServeInProcess(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		wantClose bool
	}{
		{name: "ping", in: respCmd("PING"), want: "+PONG\r\n"},
		{name: "inline ping", in: "PING\r\n", want: "+PONG\r\n"},
		{name: "set get", in: respCmd("SET", "k", "v") + respCmd("GET", "k") + respCmd("GET", "nope"), want: "+OK\r\n$1\r\nv\r\n$-1\r\n"},
		{name: "pipelined in order", in: respCmd("INCR", "n") + respCmd("INCR", "n") + respCmd("DECR", "n") + respCmd("GET", "n"), want: ":1\r\n:2\r\n:1\r\n$1\r\n1\r\n"},
		{name: "binary-safe values", in: respCmd("SET", "k", "a\r\nb\x00") + respCmd("GET", "k"), want: "+OK\r\n$5\r\na\r\nb\x00\r\n"},
		{name: "mset mget", in: respCmd("MSET", "a", "1", "b", "2") + respCmd("MGET", "a", "x", "b"), want: "+OK\r\n*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"},
		{name: "unknown command keeps the connection", in: respCmd("NOPE", "x") + respCmd("PING"), want: "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n+PONG\r\n"},
		{name: "wrong arity", in: respCmd("GET"), want: "-ERR wrong number of arguments for 'get' command\r\n"},
		{name: "empty array ignored", in: "*0\r\n" + respCmd("PING"), want: "+PONG\r\n"},
		{name: "quit", in: respCmd("QUIT") + respCmd("PING"), want: "+OK\r\n", wantClose: true},
		{name: "garbage closes", in: respCmd("PING") + "*x\r\n" + respCmd("PING"), want: "+PONG\r\n-ERR Protocol error: ", wantClose: true},
		{name: "bad bulk closes", in: "*1\r\n$3\r\nPINGX\r\n", want: "-ERR Protocol error: ", wantClose: true},
		{name: "config get", in: respCmd("CONFIG", "GET", "save") + respCmd("CONFIG", "GET", "nosuch"), want: "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*0\r\n"},
		{name: "command docs", in: respCmd("COMMAND", "DOCS") + respCmd("COMMAND"), want: "*0\r\n*0\r\n"},
	}
	for _, tc := range tests {
		for _, bytewise := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bytewise=%v", tc.name, bytewise), func(t *testing.T) {
				h := bootedKV(1)
				chunk := 0
				if bytewise {
					chunk = 1
				}
				got, closed := kvRun(h, &h.shards[0], tc.in, chunk)
				if tc.wantClose && !strings.HasPrefix(got, tc.want) || !tc.wantClose && got != tc.want {
					t.Fatalf("replies %q, want %q", got, tc.want)
				}
				if closed != tc.wantClose {
					t.Fatalf("closed=%v, want %v", closed, tc.wantClose)
				}
			})
		}
	}
}

// TestKVZeroAllocs asserts that GET, SET and INCR of an existing key, the
// redis-benchmark mix, allocate nothing in steady state.
func TestKVZeroAllocs(t *testing.T) {
	h := bootedKV(1)
	sh := &h.shards[0]
	wire := []byte(respCmd("SET", "key", "xxx") + respCmd("GET", "key") + respCmd("INCR", "n") + respCmd("MSET", "a", "1", "b", "2") + respCmd("PING"))
	src := codec.NewBytes(make([]byte, 0, len(wire)))
	run := func() {
		src.Write(wire)
		out, v := h.serve(src, sh)
		if v != kvIdle || src.Buffered() != 0 {
			t.Fatalf("verdict %d, %d bytes left", v, src.Buffered())
		}
		sh.out = out[:0]
	}
	run() // create the keys and grow the scratch buffers
	if allocs := testing.AllocsPerRun(500, run); allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

// TestKVMSetAtomic has writers MSET all keys to one value while readers
// MGET them: a reader must never see two values, whichever stripes the
// keys fall in and whichever shards the commands run on.
func TestKVMSetAtomic(t *testing.T) {
	const shards, keys = 4, 16
	h := bootedKV(shards)
	var names []string
	init := []string{"MSET"}
	for i := range keys {
		names = append(names, "key"+strconv.Itoa(i))
		init = append(init, names[i], "start")
	}
	kvRun(h, &h.shards[0], respCmd(init...), 0)
	iters := 2000
	if testing.Short() || raceEnabled {
		iters = 300
	}
	var wg sync.WaitGroup
	errs := make(chan string, shards)
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := &h.shards[s]
			for i := range iters {
				var in string
				if s%2 == 0 {
					args := []string{"MSET"}
					for _, k := range names {
						args = append(args, k, strconv.Itoa(s*iters+i))
					}
					in = respCmd(args...)
				} else {
					in = respCmd(append([]string{"MGET"}, names...)...)
				}
				got, _ := kvRun(h, sh, in, 0)
				if s%2 == 1 {
					// "*16", then "$len" and the value for each key.
					lines := strings.Split(got, "\r\n")
					for k := range keys {
						if v := lines[2+2*k]; v != lines[2] {
							errs <- fmt.Sprintf("MGET saw a torn MSET: key%d=%s, key0=%s", k, v, lines[2])
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

// TestKVExpirySweep checks that keys that expire and are never read again
// are freed by the sweep alone.
func TestKVExpirySweep(t *testing.T) {
	const n = 2000
	h := bootedKV(2)
	sh := &h.shards[0]
	var in strings.Builder
	for i := range n {
		in.WriteString(respCmd("SET", "tmp"+strconv.Itoa(i), "v", "PX", "1"))
	}
	in.WriteString(respCmd("SET", "keep", "v"))
	kvRun(h, sh, in.String(), 0)
	if got, _ := kvRun(h, sh, respCmd("DBSIZE"), 0); got != ":"+strconv.Itoa(n+1)+"\r\n" {
		t.Fatalf("DBSIZE %q before expiry", got)
	}
	time.Sleep(5 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		for s := range 2 {
			h.store.sweep(s, 2)
		}
		got, _ := kvRun(h, sh, respCmd("DBSIZE"), 0)
		if got == ":1\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE %q: the sweep did not free the expired keys", got)
		}
	}
	if got, _ := kvRun(h, sh, respCmd("GET", "keep"), 0); got != "$1\r\nv\r\n" {
		t.Fatalf("the persistent key was swept: %q", got)
	}
}

// startKV runs the kv command on a free loopback port.
func startKV(t *testing.T) *server {
	return startServer(t, "kv", "-addr", "127.0.0.1:0", "-shards", "2")
}

var benchLineRe = regexp.MustCompile(`(?m)^([A-Z_]+(?: \(\d+ keys\))?): ([\d.]+) requests per second`)

func TestKVWithRedisBenchmark(t *testing.T) {
	s := startKV(t)
	host, port := hostPort(s.addr)
	out := runClient(t, "", "redis-benchmark", "-h", host, "-p", port, "-t", "ping,set,get,incr,mset", "-n", "20000", "-c", "20", "-q")
	// -q rewrites a progress line with CRs; keep the final lines.
	out = strings.ReplaceAll(out, "\r", "\n")
	got := map[string]float64{}
	for _, m := range benchLineRe.FindAllStringSubmatch(out, -1) {
		rps, _ := strconv.ParseFloat(m[2], 64)
		got[m[1]] = rps
		t.Logf("redis-benchmark %s: %s requests per second", m[1], m[2])
	}
	for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"} {
		if got[test] <= 0 {
			t.Errorf("redis-benchmark test %s did not complete:\n%s", test, out)
		}
	}
	s.stop(t)
}

// startRedis runs a real redis-server without persistence on a free
// loopback port and returns the port; it is killed when the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	needTool(t, "redis-server")
	_, port := hostPort(freeAddr(t))
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start on port %s: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kvScript is the list of commands sent to both kv and redis-server, in
// order: each answer must be the same.
var kvScript = [][]string{
	{"PING"},
	{"PING", "hello"},
	{"ECHO", "hi there"},
	{"SET", "k1", "v1"},
	{"GET", "k1"},
	{"SET", "k1", "v2", "NX"},
	{"SET", "k1", "v2", "XX"},
	{"GET", "k1"},
	{"SET", "k2", "v", "NX"},
	{"SET", "k3", "v", "XX"},
	{"GET", "k3"},
	{"SET", "k1", "v", "EX", "0"},
	{"SET", "k1", "v", "EX", "abc"},
	{"SET", "k1", "v", "NX", "XX"},
	{"SET", "k1", "v", "EX", "10", "PX", "100"},
	{"SET", "k1", "v", "GET"},
	{"SET", "ttlkey", "v", "EX", "100"},
	{"TTL", "ttlkey"},
	{"SET", "pxkey", "v", "PX", "100000"},
	{"TTL", "pxkey"},
	{"SET", "ttlkey", "v2", "KEEPTTL"},
	{"TTL", "ttlkey"},
	{"SET", "ttlkey", "v3"},
	{"TTL", "ttlkey"},
	{"TTL", "k1"},
	{"TTL", "missing"},
	{"PTTL", "missing"},
	{"EXPIRE", "k1", "50"},
	{"TTL", "k1"},
	{"EXPIRE", "k1", "60", "NX"},
	{"EXPIRE", "k1", "70", "GT"},
	{"TTL", "k1"},
	{"EXPIRE", "k1", "abc"},
	{"EXPIRE", "missing", "10"},
	{"PERSIST", "k1"},
	{"TTL", "k1"},
	{"INCR", "counter"},
	{"INCR", "counter"},
	{"DECR", "counter"},
	{"INCRBY", "counter", "10"},
	{"DECRBY", "counter", "3"},
	{"INCR", "k1"},
	{"SET", "big", "9223372036854775807"},
	{"INCR", "big"},
	{"SET", "lead", "007"},
	{"INCR", "lead"},
	{"DECR", "fresh"},
	{"MSET", "a", "1", "b", "2", "c", "3"},
	{"MGET", "a", "b", "nope", "c"},
	{"MSET", "a"},
	{"MSET", "a", "1", "b"},
	{"DEL", "a", "b", "nope"},
	{"DEL", "a"},
	{"EXISTS", "c", "c", "nope"},
	{"DBSIZE"},
	{"GET"},
	{"FOOBAR", "x", "y"},
	{"CONFIG", "GET", "appendonly"},
	{"SELECT", "0"},
	{"EXPIRE", "c", "-1"},
	{"EXISTS", "c"},
	{"FLUSHALL"},
	{"DBSIZE"},
	{"GET", "k1"},
}

// TestKVMatchesRedis sends the same redis-cli commands to kv and to a real
// redis-server and compares the answers one by one.
func TestKVMatchesRedis(t *testing.T) {
	redisPort := startRedis(t)
	s := startKV(t)
	_, kvPort := hostPort(s.addr)
	ask := func(port string, args []string) string {
		return runClient(t, "", "redis-cli", append([]string{"--no-raw", "-h", "127.0.0.1", "-p", port}, args...)...)
	}
	for i, args := range kvScript {
		want := ask(redisPort, args)
		got := ask(kvPort, args)
		if got != want && !sameTTL(args, got, want) {
			t.Errorf("command %d %q: kv answers %q, redis-server %q", i, args, got, want)
		}
	}
	s.stop(t)
}

// sameTTL reports whether got and want are both TTL answers of a key with
// a time to live, at most a second apart: the two servers are asked one
// after the other, by separate redis-cli processes, so on a loaded machine
// a second may tick between the two (and rounding to whole seconds may
// then differ). Anything else must match exactly.
func sameTTL(args []string, got, want string) bool {
	if len(args) == 0 || !strings.EqualFold(args[0], "TTL") {
		return false
	}
	var g, w int
	if _, err := fmt.Sscanf(got, "(integer) %d\n", &g); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(want, "(integer) %d\n", &w); err != nil {
		return false
	}
	return g > 0 && w > 0 && g-w <= 1 && w-g <= 1
}

// TestKVGarbage sends garbage on one connection while another keeps being
// served: the garbage gets an error reply and a close, the other its
// answers.
func TestKVGarbage(t *testing.T) {
	s := startKV(t)
	good, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	goodR := bufio.NewReader(good)
	ping := func() {
		t.Helper()
		good.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(good, respCmd("PING"))
		line, err := goodR.ReadString('\n')
		if err != nil || line != "+PONG\r\n" {
			t.Fatalf("the good connection got %q, %v", line, err)
		}
	}
	ping()
	tests := []struct {
		name string
		in   string
	}{
		{name: "bad count", in: "*abc\r\n"},
		{name: "bulk without dollar", in: "*2\r\n+PING\r\n"},
		{name: "bulk length mismatch", in: "*1\r\n$2\r\nPING\r\n"},
		{name: "binary", in: "*\x00\x01\x02\xff\xfe\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, closed := rawExchange(t, s.addr, tc.in, 5*time.Second)
			if !strings.HasPrefix(out, "-ERR Protocol error") {
				t.Fatalf("reply %q, want a protocol error", out)
			}
			if !closed {
				t.Fatal("connection not closed after a protocol error")
			}
			ping()
		})
	}
	good.Close() // or the server's stop lingers for its EOF
	s.stop(t)
}

// FuzzKVServe checks that the command path never panics and answers the
// same whether the input arrives in one piece or in pieces of any size.
// The clock stands still so TTLs cannot differ between the two runs.
func FuzzKVServe(f *testing.F) {
	f.Add([]byte(respCmd("SET", "a", "1", "PX", "100")+respCmd("PTTL", "a")+respCmd("INCR", "a")+"PING\r\n"), uint8(1))
	f.Add([]byte(respCmd("MSET", "a", "1", "b", "2")+respCmd("MGET", "a", "b", "c")+respCmd("DEL", "a", "c")), uint8(5))
	f.Add([]byte(respCmd("SET", "a", "x", "NX", "GET")+respCmd("EXPIRE", "a", "10", "GT")+"*2\r\n$1\r\nx"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		run := func(chunk int) (string, bool) {
			h := bootedKV(1)
			h.store.now = func() int64 { return 1_700_000_000_000 }
			out, closed := kvRun(h, &h.shards[0], string(in), chunk)
			// A protocol error's detail quotes the bytes seen so far,
			// which depend on the split; its place in the stream may not.
			if i := strings.Index(out, "-ERR Protocol error"); i >= 0 {
				out = out[:i+len("-ERR Protocol error")]
			}
			return out, closed
		}
		whole, wholeClosed := run(max(len(in), 1))
		split, splitClosed := run(int(step%16) + 1)
		if whole != split || wholeClosed != splitClosed {
			t.Fatalf("whole input: closed=%v %q\nin pieces of %d: closed=%v %q", wholeClosed, whole, step%16+1, splitClosed, split)
		}
	})
}
