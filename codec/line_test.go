package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDelimiterDecode(t *testing.T) {
	tests := []struct {
		name string
		dec  func() *Delimiter
		wire string
		want []string
	}{
		{name: "lf lines", dec: func() *Delimiter { return NewLine(16) }, wire: "a\nbc\n\n", want: []string{"a", "bc", ""}},
		{name: "crlf lines", dec: func() *Delimiter { return NewLine(16) }, wire: "GET\r\nSET k v\r\n", want: []string{"GET", "SET k v"}},
		{name: "mixed endings", dec: func() *Delimiter { return NewLine(16) }, wire: "a\r\nb\nc\r\n", want: []string{"a", "b", "c"}},
		{name: "lone cr is content", dec: func() *Delimiter { return NewLine(16) }, wire: "a\rb\n", want: []string{"a\rb"}},
		{name: "line exactly max with crlf", dec: func() *Delimiter { return NewLine(3) }, wire: "abc\r\nxyz\n", want: []string{"abc", "xyz"}},
		{name: "multi-byte delimiter", dec: mustDelim("||", 8, false), wire: "a||bb||||c|d||", want: []string{"a", "bb", "", "c|d"}},
		{name: "keep delimiter", dec: mustDelim("\x00", 8, true), wire: "ab\x00\x00", want: []string{"ab\x00", "\x00"}},
		{name: "repeated delimiter prefix", dec: mustDelim("aab", 8, false), wire: "aaab" + "xaab", want: []string{"a", "x"}},
		{name: "frame exactly max", dec: mustDelim("--", 4, false), wire: "abcd--", want: []string{"abcd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want [][]byte
			for _, w := range tc.want {
				want = append(want, []byte(w))
			}
			// One decoder across all the splits also proves its scan state
			// is left clean after every complete stream.
			d := tc.dec()
			checkSplits(t, d.Decode, []byte(tc.wire), want)
		})
	}
}

func mustDelim(delim string, max int, keep bool) func() *Delimiter {
	return func() *Delimiter {
		d, err := NewDelimiter([]byte(delim), max, keep)
		if err != nil {
			panic(err)
		}
		return d
	}
}

func TestDelimiterErrors(t *testing.T) {
	tests := []struct {
		name string
		dec  func() *Delimiter
		wire string
		// errAt is how many bytes must be buffered before the error shows:
		// the decoder must not wait for more.
		errAt int
	}{
		{name: "line too long no ending", dec: func() *Delimiter { return NewLine(4) }, wire: "abcdef", errAt: 6},
		{name: "line too long with lf", dec: func() *Delimiter { return NewLine(4) }, wire: "abcde\n", errAt: 6},
		{name: "line max plus cr then other byte", dec: func() *Delimiter { return NewLine(4) }, wire: "abcd\rx", errAt: 6},
		{name: "delimiter never comes", dec: mustDelim("||", 3, false), wire: "abcd|x", errAt: 5},
		{name: "frame one past max", dec: mustDelim("|", 3, false), wire: "abcd|", errAt: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dec()
			src := &strictSource{t: t}
			for i := 0; i < len(tc.wire); i++ {
				src.Write([]byte{tc.wire[i]})
				_, _, err := d.Decode(src)
				if i+1 < tc.errAt {
					if !errors.Is(err, ErrNeedMore) {
						t.Fatalf("after %d bytes: %v, want ErrNeedMore", i+1, err)
					}
					continue
				}
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("after %d bytes: %v, want ErrFrameTooLarge", i+1, err)
				}
				if !strings.Contains(err.Error(), "offset") {
					t.Errorf("error %q does not say where", err)
				}
				return
			}
			t.Fatal("no error")
		})
	}
}

func TestDelimiterConfig(t *testing.T) {
	if _, err := NewDelimiter(nil, 10, false); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "delim") {
		t.Errorf("empty delimiter: %v", err)
	}
	if _, err := NewDelimiter([]byte("x"), 0, false); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "maxLength") {
		t.Errorf("zero max: %v", err)
	}
}

// The scan state must survive a stream discarded behind the decoder's back
// once Reset is called, and must not skip a delimiter after a Clone.
func TestDelimiterResetClone(t *testing.T) {
	d := NewLine(100)
	src := NewBytes([]byte("abcdef"))
	if _, _, err := d.Decode(src); !errors.Is(err, ErrNeedMore) {
		t.Fatal(err)
	}
	c := d.Clone()
	other := NewBytes([]byte("a\nbcdefgh"))
	if f, _, err := c.Decode(other); err != nil || string(f) != "a" {
		t.Fatalf("clone decoded %q, %v", f, err)
	}
	src.Discard(6)
	d.Reset()
	src.Write([]byte("x\n"))
	if f, n, err := d.Decode(src); err != nil || string(f) != "x" || n != 2 {
		t.Fatalf("after Reset: %q %d %v", f, n, err)
	}
}

// A long line arriving a byte at a time is scanned incrementally: the total
// bytes scanned stay linear, observable through the scan state.
func TestDelimiterIncrementalScan(t *testing.T) {
	d := NewLine(1 << 16)
	src := &Bytes{}
	for i := range 1000 {
		src.Write([]byte{'x'})
		if _, _, err := d.Decode(src); !errors.Is(err, ErrNeedMore) {
			t.Fatal(err)
		}
		if d.scanned != i+1 {
			t.Fatalf("scanned %d after %d bytes", d.scanned, i+1)
		}
	}
	src.Write([]byte("\r\n"))
	f, n, err := d.Decode(src)
	if err != nil || len(f) != 1000 || n != 1002 || d.scanned != 0 {
		t.Fatalf("got %d bytes n=%d err=%v scanned=%d", len(f), n, err, d.scanned)
	}
}

func TestFixed(t *testing.T) {
	tests := []struct {
		name string
		size int
		wire string
		want []string
		left bool
	}{
		{name: "size 1", size: 1, wire: "abc", want: []string{"a", "b", "c"}},
		{name: "size 3 many", size: 3, wire: "abcdefghi", want: []string{"abc", "def", "ghi"}},
		{name: "size 4 trailing partial", size: 4, wire: "abcdefg", want: []string{"abcd"}, left: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFixed(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for _, w := range tc.want {
				want = append(want, []byte(w))
			}
			if tc.left {
				got, err := feed(t, f.Decode, []byte(tc.wire))
				if !errors.Is(err, errLeftover) || !equalFrames(got, want) {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			checkSplits(t, f.Decode, []byte(tc.wire), want)
		})
	}
	if _, err := NewFixed(0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewFixed(0): %v", err)
	}
	f, _ := NewFixed(2)
	var s Bytes
	if err := f.Encode(&s, []byte("abc")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Encode of wrong size: %v", err)
	}
	if err := f.Encode(&s, []byte("ab")); err != nil || string(s.Bytes()) != "ab" {
		t.Errorf("Encode: %q %v", s.Bytes(), err)
	}
}

func TestDelimiterFixedZeroAllocs(t *testing.T) {
	d := NewLine(1 << 16)
	fx, _ := NewFixed(64)
	wire := append(bytes.Repeat([]byte("y"), 64), "\r\n"...)
	src := NewBytes(wire)
	allocs := testing.AllocsPerRun(100, func() {
		src.off = 0
		if f, _, err := d.Decode(src); err != nil || len(f) != 64 {
			t.Fatal(err)
		}
		if f, _, err := fx.Decode(src); err != nil || len(f) != 64 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

// FuzzDelimiter decodes arbitrary bytes with a fuzzed delimiter and limit:
// never panics, no frame over the limit, the same frames whatever the read
// split, and decode(frame+delimiter) gives back each frame free of the
// delimiter.
func FuzzDelimiter(f *testing.F) {
	f.Add([]byte("\n"), uint8(8), false, false, uint8(3), []byte("ab\ncd\r\n\nxyz"))
	f.Add([]byte("\r\n"), uint8(4), false, false, uint8(1), []byte("abcd\r\nabcde\r\n"))
	f.Add([]byte("aab"), uint8(4), true, false, uint8(2), []byte("aaabxaab"))
	f.Add([]byte("\n"), uint8(4), false, true, uint8(5), []byte("abcd\r\nab\r\r\n"))
	f.Fuzz(func(t *testing.T, delim []byte, max uint8, keep, line bool, split uint8, data []byte) {
		var d *Delimiter
		if line {
			d = NewLine(int(max))
		} else {
			var err error
			if d, err = NewDelimiter(delim, int(max), keep); err != nil {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatal(err)
				}
				return
			}
		}
		// d remembers how far it scanned: each feed starts it afresh.
		whole := checkSplitSame(t, func() decodeFunc { d.Reset(); return d.Decode }, int(split), data)
		d.Reset()
		checkAllocs(t, data, func(s Source) (int, error) {
			_, n, err := d.Decode(s)
			return n, err
		})
		for _, fr := range whole {
			if len(fr) > d.max+len(d.delim) {
				t.Fatalf("frame of %d bytes, max %d", len(fr), d.max)
			}
		}
		// Round trip: cut data into frames free of the delimiter, encode
		// each with its delimiter, decode the lot.
		if keep {
			return
		}
		sep := d.delim
		var frames [][]byte
		var wire []byte
		for _, fr := range bytes.Split(data, sep) {
			if d.line {
				fr = bytes.TrimRight(fr, "\r")
			}
			if len(fr) > d.max {
				fr = fr[:d.max]
			}
			if bytes.Index(append(bytes.Clone(fr), sep...), sep) != len(fr) {
				// The frame's tail and the delimiter overlap into an earlier
				// delimiter ("0\n0" then "0\n00"): not a frame this
				// delimiter can carry.
				continue
			}
			if d.line && bytes.HasSuffix(fr, []byte("\r")) {
				continue
			}
			frames = append(frames, fr)
			wire = append(wire, fr...)
			wire = append(wire, sep...)
		}
		d.Reset()
		got, err := feed(t, d.Decode, wire)
		if err != nil || !equalFrames(got, frames) {
			t.Fatalf("decode(encode(%q)) = %q, %v", frames, got, err)
		}
	})
}

// FuzzFixed checks that Fixed frames any input into size-byte frames, the
// same under any split, and that decode(encode(frame)) == frame.
func FuzzFixed(f *testing.F) {
	f.Add(uint8(3), uint8(2), []byte("abcdefgh"))
	f.Add(uint8(1), uint8(0), []byte("x"))
	f.Fuzz(func(t *testing.T, size, split uint8, data []byte) {
		fx, err := NewFixed(int(size))
		if err != nil {
			if size != 0 || !errors.Is(err, ErrInvalidConfig) {
				t.Fatal(err)
			}
			return
		}
		cut := cutAt(int(split), len(data))
		got, err := feed(t, fx.Decode, data[:cut], data[cut:])
		checkAllocs(t, data, func(s Source) (int, error) {
			_, n, err := fx.Decode(s)
			return n, err
		})
		if len(data)%int(size) != 0 && !errors.Is(err, errLeftover) || len(data)%int(size) == 0 && err != nil {
			t.Fatalf("%d bytes in %d-byte frames: %v", len(data), size, err)
		}
		if len(got) != len(data)/int(size) {
			t.Fatalf("%d frames from %d bytes", len(got), len(data))
		}
		var re Bytes
		for i, fr := range got {
			if !bytes.Equal(fr, data[i*int(size):(i+1)*int(size)]) {
				t.Fatalf("frame %d = %q", i, fr)
			}
			if err := fx.Encode(&re, fr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(re.Bytes(), data[:len(got)*int(size)]) {
			t.Fatal("encode(decode(data)) != data")
		}
	})
}
