package codec

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// RESPLimits bounds what a RESPDecoder accepts from a peer. A zero field
// takes the default given beside it.
type RESPLimits struct {
	// MaxArgs is the most arguments in one command. Default 4096.
	MaxArgs int
	// MaxBulk is the longest bulk string. Default 8 MiB.
	MaxBulk int
	// MaxInline is the longest inline command line. Default 64 KiB, as Redis.
	MaxInline int
	// MaxCommand is the most wire bytes of one command or reply value; it
	// bounds what a connection buffers while waiting for the rest. Default
	// 64 MiB.
	MaxCommand int
}

// RESPDecoder parses RESP2 commands (as a server reads them) and RESP2 values
// (as a client reads replies). It holds only its limits and is safe for
// concurrent use. Build it with NewRESPDecoder.
type RESPDecoder struct {
	lim RESPLimits
}

// NewRESPDecoder returns a decoder with lim, defaults filled in. The error
// wraps ErrInvalidConfig and names a negative field.
func NewRESPDecoder(lim RESPLimits) (*RESPDecoder, error) {
	fields := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxArgs", &lim.MaxArgs, 4096},
		{"MaxBulk", &lim.MaxBulk, 8 << 20},
		{"MaxInline", &lim.MaxInline, 64 << 10},
		{"MaxCommand", &lim.MaxCommand, 64 << 20},
	}
	for _, f := range fields {
		if *f.v < 0 {
			return nil, fmt.Errorf("%w: RESPLimits.%s %d is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return &RESPDecoder{lim: lim}, nil
}

// Limits returns the limits in force, defaults filled in.
func (d *RESPDecoder) Limits() RESPLimits { return d.lim }

// Command is one parsed command. Reuse one per connection: Decode refills
// Args in place, so parsing does not allocate once Args has grown to the
// connection's widest command.
type Command struct {
	// Args holds the command name and its arguments. Each aliases the
	// source and is valid until the caller discards the command's n bytes.
	// It is empty for the commands Redis ignores ("*0", "*-1", a blank
	// inline line).
	Args [][]byte
}

// Name reports whether the command name (Args[0]) is name, ignoring ASCII
// case, without allocating.
func (c *Command) Name(name string) bool {
	return len(c.Args) > 0 && equalFoldASCII(c.Args[0], name)
}

// Decode parses the next command, a RESP array of bulk strings or an inline
// command, into cmd and returns its wire length n. Inline commands split on
// spaces and tabs; quotes are not interpreted (redis-cli and
// redis-benchmark send arrays). Errors wrap ErrFrameTooLarge (a count or
// length past a limit, reported as soon as it is read) or ErrMalformed, with
// the offset.
func (d *RESPDecoder) Decode(src Source, cmd *Command) (n int, err error) {
	return decodeWindowed(src, d.lim.MaxCommand, func(b []byte) (int, error) { return d.decodeCommand(b, cmd) })
}

// firstWindow is the first Peek size of the decoders that do not know a
// frame's length up front (RESP, HTTP, Delimiter): most requests fit.
const firstWindow = 1024

// decodeWindowed runs parse over a small window of src first and doubles
// the window, up to what is buffered and at most max bytes, only while
// parse needs more: a Source that copies to make bytes contiguous (a
// wrapped ring) then copies about one frame, not everything buffered.
func decodeWindowed(src Source, max int, parse func(b []byte) (int, error)) (int, error) {
	limit := min(src.Buffered(), max)
	if limit == 0 {
		return 0, ErrNeedMore
	}
	for w := min(limit, firstWindow); ; w = min(limit, 2*w) {
		b, err := src.Peek(w)
		if err != nil {
			return 0, err
		}
		n, err := parse(b)
		if err == ErrNeedMore && w < limit {
			continue
		}
		return n, err
	}
}

// decodeCommand parses one command at the start of b.
func (d *RESPDecoder) decodeCommand(b []byte, cmd *Command) (int, error) {
	cmd.Args = cmd.Args[:0]
	if b[0] != '*' {
		return d.decodeInline(b, cmd)
	}
	count, pos, err := d.readInt(b, 1)
	if err != nil {
		return 0, err
	}
	if count <= 0 {
		if count < -1 {
			return 0, fmt.Errorf("%w: array count %d at offset 1", ErrMalformed, count)
		}
		return pos, nil
	}
	if count > int64(d.lim.MaxArgs) {
		return 0, fmt.Errorf("%w: %d arguments at offset 1, limit %d", ErrFrameTooLarge, count, d.lim.MaxArgs)
	}
	for range count {
		if pos >= len(b) {
			return 0, d.needMore(b)
		}
		if b[pos] != '$' {
			return 0, fmt.Errorf("%w: expected '$' at offset %d, got %q", ErrMalformed, pos, b[pos])
		}
		arg, next, err := d.readBulk(b, pos)
		if err != nil {
			return 0, err
		}
		if arg == nil {
			return 0, fmt.Errorf("%w: null bulk string in command at offset %d", ErrMalformed, pos)
		}
		cmd.Args = append(cmd.Args, arg)
		pos = next
	}
	return pos, nil
}

// decodeInline parses a line of space-separated words.
func (d *RESPDecoder) decodeInline(b []byte, cmd *Command) (int, error) {
	window := b[:min(len(b), d.lim.MaxInline)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		if len(b) >= d.lim.MaxInline {
			return 0, fmt.Errorf("%w: inline command without newline in %d bytes (offset 0), limit %d", ErrFrameTooLarge, len(window), d.lim.MaxInline)
		}
		return 0, ErrNeedMore
	}
	line := window[:i:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[: len(line)-1 : len(line)-1]
	}
	for start := 0; start < len(line); {
		if isRESPSpace(line[start]) {
			start++
			continue
		}
		end := start
		for end < len(line) && !isRESPSpace(line[end]) {
			end++
		}
		if len(cmd.Args) == d.lim.MaxArgs {
			cmd.Args = cmd.Args[:0]
			return 0, fmt.Errorf("%w: inline command has more than %d arguments (offset %d)", ErrFrameTooLarge, d.lim.MaxArgs, start)
		}
		cmd.Args = append(cmd.Args, line[start:end:end])
		start = end
	}
	return i + 1, nil
}

func isRESPSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

// needMore is ErrNeedMore, or ErrFrameTooLarge when the window already
// holds MaxCommand bytes, so more could never complete the command.
func (d *RESPDecoder) needMore(b []byte) error {
	if len(b) >= d.lim.MaxCommand {
		return fmt.Errorf("%w: value longer than %d bytes (offset 0)", ErrFrameTooLarge, d.lim.MaxCommand)
	}
	return ErrNeedMore
}

// readInt parses the signed decimal that starts at b[pos] and ends with
// "\r\n", returning it and the offset after the "\r\n". At most 19 digits
// are read and the value is range-checked, so it cannot overflow. A byte
// that cannot belong to the number is reported at once, without waiting for
// more input.
func (d *RESPDecoder) readInt(b []byte, pos int) (int64, int, error) {
	start := pos
	neg := false
	if pos < len(b) && b[pos] == '-' {
		neg = true
		pos++
	}
	var u uint64 // 19 digits fit: 10^19-1 < 2^64
	digits := 0
	for ; pos < len(b); pos++ {
		c := b[pos]
		if c < '0' || c > '9' {
			break
		}
		if digits == 19 {
			return 0, 0, fmt.Errorf("%w: integer at offset %d has more than 19 digits", ErrMalformed, start)
		}
		u = u*10 + uint64(c-'0')
		digits++
	}
	if pos < len(b) && (digits == 0 || b[pos] != '\r') || pos+1 < len(b) && b[pos+1] != '\n' {
		return 0, 0, fmt.Errorf("%w: bad integer at offset %d: want digits then CRLF, got %q", ErrMalformed, start, b[start:min(pos+2, len(b))])
	}
	if pos+1 >= len(b) {
		return 0, 0, d.needMore(b)
	}
	if !neg && u > math.MaxInt64 || neg && u > 1<<63 {
		return 0, 0, fmt.Errorf("%w: integer at offset %d overflows 64 bits", ErrMalformed, start)
	}
	v := int64(u)
	if neg {
		v = -v // also right for 1<<63, which wraps to MinInt64
	}
	return v, pos + 2, nil
}

// readBulk parses the bulk string whose '$' is at b[pos]. It returns the
// string (nil for the null bulk string "$-1") and the offset after it.
func (d *RESPDecoder) readBulk(b []byte, pos int) ([]byte, int, error) {
	l, next, err := d.readInt(b, pos+1)
	if err != nil {
		return nil, 0, err
	}
	if l == -1 {
		return nil, next, nil
	}
	if l < 0 {
		return nil, 0, fmt.Errorf("%w: bulk length %d at offset %d", ErrMalformed, l, pos)
	}
	if l > int64(d.lim.MaxBulk) {
		return nil, 0, fmt.Errorf("%w: bulk length %d at offset %d, limit %d", ErrFrameTooLarge, l, pos, d.lim.MaxBulk)
	}
	end := next + int(l)
	if end+2 > d.lim.MaxCommand {
		return nil, 0, fmt.Errorf("%w: bulk string at offset %d ends past %d bytes, limit MaxCommand", ErrFrameTooLarge, pos, d.lim.MaxCommand)
	}
	if end+2 > len(b) {
		return nil, 0, ErrNeedMore
	}
	if b[end] != '\r' || b[end+1] != '\n' {
		return nil, 0, fmt.Errorf("%w: bulk string at offset %d not followed by CRLF at offset %d", ErrMalformed, pos, end)
	}
	return b[next:end:end], end + 2, nil
}

// Kind is a RESP2 value type, named by its type byte.
type Kind byte

// The RESP2 kinds.
const (
	KindSimpleString Kind = '+'
	KindError        Kind = '-'
	KindInteger      Kind = ':'
	KindBulkString   Kind = '$'
	KindArray        Kind = '*'
)

// Value is one RESP2 value as DecodeValue returns it. An array is returned
// as its header alone: Int holds the element count and the elements are the
// next Int values, so nesting needs no allocation.
type Value struct {
	// Kind is the value's type.
	Kind Kind
	// Str holds a simple string, an error or a bulk string, aliasing the
	// source until the caller discards the value's n bytes.
	Str []byte
	// Int holds an integer, or an array's element count.
	Int int64
	// Null marks the null bulk string ("$-1") and the null array ("*-1").
	Null bool
}

// DecodeValue parses the next RESP2 value (a reply, for a client) and
// returns its wire length n. Arrays are returned as headers; see Value.
// Errors wrap ErrFrameTooLarge or ErrMalformed, with the offset.
func (d *RESPDecoder) DecodeValue(src Source) (v Value, n int, err error) {
	n, err = decodeWindowed(src, d.lim.MaxCommand, func(b []byte) (int, error) {
		var k int
		v, k, err = d.decodeValue(b)
		return k, err
	})
	return v, n, err
}

// decodeValue parses one value at the start of b.
func (d *RESPDecoder) decodeValue(b []byte) (v Value, n int, err error) {
	v.Kind = Kind(b[0])
	switch v.Kind {
	case KindSimpleString, KindError:
		window := b[:min(len(b), d.lim.MaxInline)]
		i := bytes.IndexByte(window, '\n')
		if i < 0 {
			if len(b) >= d.lim.MaxInline {
				return Value{}, 0, fmt.Errorf("%w: simple string without CRLF in %d bytes (offset 0)", ErrFrameTooLarge, len(window))
			}
			return Value{}, 0, ErrNeedMore
		}
		if i < 2 || b[i-1] != '\r' {
			return Value{}, 0, fmt.Errorf("%w: line feed without carriage return at offset %d", ErrMalformed, i)
		}
		if j := bytes.IndexByte(b[1:i-1], '\r'); j >= 0 {
			return Value{}, 0, fmt.Errorf("%w: carriage return inside simple string at offset %d", ErrMalformed, j+1)
		}
		v.Str = b[1 : i-1 : i-1]
		return v, i + 1, nil
	case KindInteger:
		v.Int, n, err = d.readInt(b, 1)
		if err != nil {
			return Value{}, 0, err
		}
		return v, n, nil
	case KindBulkString:
		v.Str, n, err = d.readBulk(b, 0)
		if err != nil {
			return Value{}, 0, err
		}
		v.Null = v.Str == nil
		return v, n, nil
	case KindArray:
		v.Int, n, err = d.readInt(b, 1)
		if err != nil {
			return Value{}, 0, err
		}
		if v.Int < -1 {
			return Value{}, 0, fmt.Errorf("%w: array count %d at offset 1", ErrMalformed, v.Int)
		}
		if v.Int > int64(d.lim.MaxArgs) {
			return Value{}, 0, fmt.Errorf("%w: array of %d elements at offset 1, limit %d", ErrFrameTooLarge, v.Int, d.lim.MaxArgs)
		}
		if v.Int == -1 {
			v.Int, v.Null = 0, true
		}
		return v, n, nil
	}
	return Value{}, 0, fmt.Errorf("%w: unknown RESP type byte %q at offset 0", ErrMalformed, b[0])
}

// AppendSimpleString appends "+s\r\n". CR and LF in s, which would end the
// line early, are replaced by spaces.
func AppendSimpleString(dst []byte, s string) []byte {
	dst = append(dst, '+')
	return appendRESPLine(dst, s)
}

// AppendError appends "-msg\r\n"; by convention msg starts with an error
// code such as "ERR". CR and LF in msg are replaced by spaces.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	return appendRESPLine(dst, msg)
}

func appendRESPLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// AppendInt appends the integer ":v\r\n".
func AppendInt(dst []byte, v int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string, "$len\r\nb\r\n". A nil b is still an
// empty string; use AppendNull for the null bulk string.
func AppendBulk(dst, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNull appends the null bulk string "$-1\r\n" (a missing key).
func AppendNull(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendNullArray appends the null array "*-1\r\n".
func AppendNullArray(dst []byte) []byte { return append(dst, "*-1\r\n"...) }

// AppendArray appends the header of an array of n elements, "*n\r\n"; the
// caller appends the n elements after it.
func AppendArray(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendCommand appends args as a RESP array of bulk strings, the form in
// which clients send commands.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = AppendArray(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

// equalFoldASCII reports whether b equals s ignoring ASCII case; it does
// not allocate, unlike converting b to a string for strings.EqualFold.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
