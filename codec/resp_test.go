package codec

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// cmdDecoder adapts RESPDecoder.Decode to decodeFunc; each frame is the
// command re-encoded, so comparing frames compares argument lists exactly.
func cmdDecoder(d *RESPDecoder) decodeFunc {
	var cmd Command
	return func(src Source) ([]byte, int, error) {
		n, err := d.Decode(src, &cmd)
		if err != nil {
			return nil, 0, err
		}
		return AppendCommand(nil, cmd.Args...), n, nil
	}
}

// valueDecoder adapts DecodeValue; each frame is a readable dump.
func valueDecoder(d *RESPDecoder) decodeFunc {
	return func(src Source) ([]byte, int, error) {
		v, n, err := d.DecodeValue(src)
		if err != nil {
			return nil, 0, err
		}
		return []byte(dumpValue(v)), n, nil
	}
}

func dumpValue(v Value) string {
	s := string(v.Kind)
	if v.Null {
		s += "null"
	}
	switch v.Kind {
	case KindInteger, KindArray:
		s += strconv.FormatInt(v.Int, 10)
	default:
		s += string(v.Str)
	}
	return s
}

func cmd(args ...string) []byte {
	var bs [][]byte
	for _, a := range args {
		bs = append(bs, []byte(a))
	}
	return AppendCommand(nil, bs...)
}

func TestRESPDecodeCommand(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want [][]byte
	}{
		{name: "array", wire: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", want: [][]byte{cmd("SET", "k", "hello")}},
		{name: "binary-safe bulk", wire: "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", want: [][]byte{cmd("GET", "a\r\nb")}},
		{name: "empty bulk", wire: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", want: [][]byte{cmd("ECHO", "")}},
		{name: "pipelined", wire: "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", want: [][]byte{cmd("PING"), cmd("PING"), cmd("GET", "x")}},
		{name: "inline crlf", wire: "PING\r\n", want: [][]byte{cmd("PING")}},
		{name: "inline lf and spaces", wire: "  SET  k\tv \nGET k\r\n", want: [][]byte{cmd("SET", "k", "v"), cmd("GET", "k")}},
		{name: "blank inline ignored", wire: "\r\nPING\r\n", want: [][]byte{cmd(), cmd("PING")}},
		{name: "empty and null arrays ignored", wire: "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", want: [][]byte{cmd(), cmd(), cmd("PING")}},
	}
	d, _ := NewRESPDecoder(RESPLimits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkSplits(t, cmdDecoder(d), []byte(tc.wire), tc.want)
		})
	}
}

func TestRESPDecodeCommandErrors(t *testing.T) {
	small := RESPLimits{MaxArgs: 3, MaxBulk: 8, MaxInline: 16, MaxCommand: 64}
	tests := []struct {
		name    string
		lim     RESPLimits
		wire    string
		wantErr error
		where   string
	}{
		{name: "too many args", lim: small, wire: "*4\r\n", wantErr: ErrFrameTooLarge, where: "offset 1"},
		{name: "bulk too long, body not sent", lim: small, wire: "*1\r\n$9\r\n", wantErr: ErrFrameTooLarge, where: "offset 4"},
		{name: "command past MaxCommand", lim: RESPLimits{MaxCommand: 40}, wire: "*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n", wantErr: ErrFrameTooLarge, where: "offset 32"},
		{name: "inline too long", lim: small, wire: "GET 0123456789abcdef", wantErr: ErrFrameTooLarge, where: "offset 0"},
		{name: "inline too many args", lim: small, wire: "a b c d\r\n", wantErr: ErrFrameTooLarge, where: "offset 6"},
		{name: "not a bulk", wire: "*1\r\n:1\r\n", wantErr: ErrMalformed, where: "offset 4"},
		{name: "bad count", wire: "*x\r\n", wantErr: ErrMalformed, where: "offset 1"},
		{name: "count without lf", wire: "*1\rx", wantErr: ErrMalformed, where: "offset 1"},
		{name: "negative count", wire: "*-2\r\n", wantErr: ErrMalformed, where: "offset 1"},
		{name: "null bulk in command", wire: "*1\r\n$-1\r\n", wantErr: ErrMalformed, where: "offset 4"},
		{name: "negative bulk", wire: "*1\r\n$-5\r\n", wantErr: ErrMalformed, where: "offset 4"},
		{name: "bulk missing crlf", wire: "*1\r\n$2\r\nabcd", wantErr: ErrMalformed, where: "offset 10"},
		{name: "huge count digits", wire: "*12345678901234567890\r\n", wantErr: ErrMalformed, where: "offset 1"},
		{name: "count overflows int64", wire: "*9223372036854775808\r\n", wantErr: ErrMalformed, where: "offset 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewRESPDecoder(tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			// Byte by byte: the error must come as soon as the bytes show it,
			// and ErrNeedMore before.
			_, err = feed(t, cmdDecoder(d), bytewise([]byte(tc.wire))...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.where) {
				t.Errorf("error %q does not say %q", err, tc.where)
			}
		})
	}
	if _, err := NewRESPDecoder(RESPLimits{MaxBulk: -1}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "MaxBulk") {
		t.Errorf("negative limit: %v", err)
	}
}

func TestRESPValues(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want []string
	}{
		{name: "simple", wire: AppendSimpleString(nil, "OK"), want: []string{"+OK"}},
		{name: "error sanitised", wire: AppendError(nil, "ERR bad\r\nthing"), want: []string{"-ERR bad  thing"}},
		{name: "integers", wire: AppendInt(AppendInt(AppendInt(AppendInt(nil, -42), 1<<60), math.MaxInt64), math.MinInt64), want: []string{":-42", ":1152921504606846976", ":9223372036854775807", ":-9223372036854775808"}},
		{name: "bulk and null", wire: AppendNull(AppendBulkString(AppendBulk(nil, []byte("a\r\nb")), "")), want: []string{"$a\r\nb", "$", "$null"}},
		{name: "nested arrays", wire: AppendInt(AppendArray(AppendNullArray(AppendArray(AppendArray(nil, 2), 0)), 1), 7), want: []string{"*2", "*0", "*null0", "*1", ":7"}},
	}
	d, _ := NewRESPDecoder(RESPLimits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want [][]byte
			for _, w := range tc.want {
				want = append(want, []byte(w))
			}
			checkSplits(t, valueDecoder(d), tc.wire, want)
		})
	}
}

func TestRESPValueErrors(t *testing.T) {
	tests := []struct {
		name    string
		wire    string
		wantErr error
	}{
		{name: "unknown type", wire: "?x\r\n", wantErr: ErrMalformed},
		{name: "simple string bare lf", wire: "+OK\n", wantErr: ErrMalformed},
		{name: "simple string inner cr", wire: "+O\rK\r\n", wantErr: ErrMalformed},
		{name: "bad integer", wire: ":12a\r\n", wantErr: ErrMalformed},
		{name: "array too big", wire: "*5000\r\n", wantErr: ErrFrameTooLarge},
		{name: "bulk too big", wire: "$999999999\r\n", wantErr: ErrFrameTooLarge},
	}
	d, _ := NewRESPDecoder(RESPLimits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := feed(t, valueDecoder(d), []byte(tc.wire))
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("got %v, want %v with an offset", err, tc.wantErr)
			}
		})
	}
}

func TestRESPCommandName(t *testing.T) {
	c := Command{Args: [][]byte{[]byte("sEt")}}
	if !c.Name("SET") || c.Name("GET") || c.Name("SETX") || (&Command{}).Name("SET") {
		t.Fatal("Name is wrong")
	}
}

func TestRESPZeroAllocs(t *testing.T) {
	d, _ := NewRESPDecoder(RESPLimits{})
	wire := cmd("SET", "key:000001", "xxxxxxxxxxxxxxxxxxxxxxxx")
	wire = append(wire, "GET key:000001\r\n"...)
	src := NewBytes(wire)
	var c Command
	out := make([]byte, 0, 256)
	replies := &Bytes{}
	allocs := testing.AllocsPerRun(100, func() {
		src.off = 0
		n, err := d.Decode(src, &c)
		if err != nil || len(c.Args) != 3 {
			t.Fatal(err)
		}
		src.Discard(n)
		if _, err = d.Decode(src, &c); err != nil || len(c.Args) != 2 {
			t.Fatal(err)
		}
		out = AppendBulk(AppendInt(AppendError(AppendSimpleString(out[:0], "OK"), "ERR x"), 5), c.Args[1])
		replies.buf, replies.off = out, 0
		for _, kind := range []Kind{KindSimpleString, KindError, KindInteger, KindBulkString} {
			v, n, err := d.DecodeValue(replies)
			if err != nil || v.Kind != kind {
				t.Fatalf("reply %c: %v", kind, err)
			}
			replies.Discard(n)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per command and replies, want 0", allocs)
	}
}

// FuzzRESPCommand parses arbitrary bytes as commands with small limits:
// no panic, limits hold, the same commands whatever the read split, and
// every command decoded re-encodes to a command that decodes the same.
func FuzzRESPCommand(f *testing.F) {
	f.Add(uint8(3), []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n"))
	f.Add(uint8(2), []byte("PING\r\nSET a b\n\r\n"))
	f.Add(uint8(5), []byte("*0\r\n*-1\r\n*2\r\n$0\r\n\r\n$-1\r\n"))
	f.Add(uint8(1), []byte("*999999\r\n$99999999\r\n"))
	f.Add(uint8(7), []byte("*1\r\n$2\r\nabcd"))
	f.Fuzz(func(t *testing.T, split uint8, data []byte) {
		lim := RESPLimits{MaxArgs: 8, MaxBulk: 64, MaxInline: 64, MaxCommand: 256}
		d, _ := NewRESPDecoder(lim)
		whole := checkSplitSame(t, func() decodeFunc { return cmdDecoder(d) }, int(split), data)
		var c0 Command
		checkAllocs(t, data, func(s Source) (int, error) { return d.Decode(s, &c0) })
		var c Command
		for _, re := range whole {
			n, err := d.Decode(NewBytes(re), &c)
			if err != nil || n != len(re) || len(c.Args) > lim.MaxArgs {
				t.Fatalf("re-decoding %q: n=%d %v", re, n, err)
			}
			for _, a := range c.Args {
				if len(a) > lim.MaxBulk {
					t.Fatalf("argument of %d bytes", len(a))
				}
			}
			if !bytes.Equal(AppendCommand(nil, c.Args...), re) {
				t.Fatalf("decode(encode(%q)) differs", re)
			}
		}
	})
}

// FuzzRESPValue parses arbitrary bytes as reply values, and round-trips a
// value built from the fuzz input through the appenders.
func FuzzRESPValue(f *testing.F) {
	f.Add(uint8(0), int64(0), []byte("+OK\r\n-ERR x\r\n:5\r\n$3\r\nabc\r\n$-1\r\n*2\r\n*-1\r\n"))
	f.Add(uint8(1), int64(-1), []byte("$5\r\nab"))
	f.Add(uint8(3), int64(1<<62), []byte(":-999999999999999999\r\n"))
	// noCRLF is what the simple-string appenders do to CR and LF, byte by
	// byte (strings.Map would also rewrite invalid UTF-8, which RESP passes
	// through).
	noCRLF := strings.NewReplacer("\r", " ", "\n", " ")
	f.Fuzz(func(t *testing.T, kind uint8, i int64, data []byte) {
		d, _ := NewRESPDecoder(RESPLimits{MaxArgs: 8, MaxBulk: 64, MaxInline: 64, MaxCommand: 256})
		feed(t, valueDecoder(d), data)
		checkAllocs(t, data, func(s Source) (int, error) {
			_, n, err := d.DecodeValue(s)
			return n, err
		})

		var wire []byte
		var want string
		switch kind % 6 {
		case 0:
			wire, want = AppendSimpleString(nil, string(data)), "+"+noCRLF.Replace(string(data))
		case 1:
			wire, want = AppendError(nil, string(data)), "-"+noCRLF.Replace(string(data))
		case 2:
			wire, want = AppendInt(nil, i), ":"+strconv.FormatInt(i, 10)
		case 3:
			wire, want = AppendBulk(nil, data), "$"+string(data)
		case 4:
			wire, want = AppendNull(nil), "$null"
		case 5:
			wire, want = AppendArray(nil, int(i&7)), "*"+strconv.FormatInt(i&7, 10)
		}
		got, err := feed(t, valueDecoder(d), wire)
		if err != nil {
			// Values over the small limits are refused, never misread.
			if errors.Is(err, ErrFrameTooLarge) {
				return
			}
			t.Fatalf("decode(%q): %v", wire, err)
		}
		if len(got) != 1 || string(got[0]) != want {
			t.Fatalf("decode(encode) = %q, want %q", got, want)
		}
	})
}
