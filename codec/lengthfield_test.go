package codec

import (
	"bytes"
	"errors"
	"testing"
)

func TestLengthFieldDecode(t *testing.T) {
	tests := []struct {
		name string
		cfg  LengthFieldConfig
		wire []byte
		want [][]byte
	}{
		{
			// Netty example 1: 2-byte length, nothing stripped.
			name: "netty1 len2 no strip",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2},
			wire: []byte("\x00\x0cHELLO, WORLD"),
			want: [][]byte{[]byte("\x00\x0cHELLO, WORLD")},
		},
		{
			// Netty example 2: strip the header.
			name: "netty2 strip header",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2, InitialBytesToStrip: 2},
			wire: []byte("\x00\x0cHELLO, WORLD"),
			want: [][]byte{[]byte("HELLO, WORLD")},
		},
		{
			// Netty example 3: the length counts the whole frame.
			name: "netty3 length includes header",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2, LengthAdjustment: -2},
			wire: []byte("\x00\x0eHELLO, WORLD"),
			want: [][]byte{[]byte("\x00\x0eHELLO, WORLD")},
		},
		{
			// Netty example 4: a 2-byte header before a 3-byte length.
			name: "netty4 offset 2 len3",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 2, LengthFieldLength: 3},
			wire: []byte("\xca\xfe\x00\x00\x0cHELLO, WORLD"),
			want: [][]byte{[]byte("\xca\xfe\x00\x00\x0cHELLO, WORLD")},
		},
		{
			// Netty example 5: a 2-byte header after the length, not counted.
			name: "netty5 adjustment for trailing header",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 3, LengthAdjustment: 2},
			wire: []byte("\x00\x00\x0c\xca\xfeHELLO, WORLD"),
			want: [][]byte{[]byte("\x00\x00\x0c\xca\xfeHELLO, WORLD")},
		},
		{
			// Netty example 6: HDR1 | LEN | HDR2 | body, strip HDR1+LEN.
			name: "netty6 offset 1 adjust 1 strip 3",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 1, LengthFieldLength: 2, LengthAdjustment: 1, InitialBytesToStrip: 3},
			wire: []byte("\xca\x00\x0c\xfeHELLO, WORLD"),
			want: [][]byte{[]byte("\xfeHELLO, WORLD")},
		},
		{
			// Netty example 7: as 6 but the length counts the whole frame.
			name: "netty7 length counts all, strip 3",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 1, LengthFieldLength: 2, LengthAdjustment: -3, InitialBytesToStrip: 3},
			wire: []byte("\xca\x00\x10\xfeHELLO, WORLD"),
			want: [][]byte{[]byte("\xfeHELLO, WORLD")},
		},
		{
			name: "len1 many frames in one read",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 1, InitialBytesToStrip: 1},
			wire: []byte("\x01a\x00\x03bcd\x02ef"),
			want: [][]byte{[]byte("a"), []byte(""), []byte("bcd"), []byte("ef")},
		},
		{
			name: "len4 default big endian",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, InitialBytesToStrip: 4},
			wire: []byte("\x00\x00\x00\x03abc\x00\x00\x00\x01z"),
			want: [][]byte{[]byte("abc"), []byte("z")},
		},
		{
			name: "len4 little endian",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 4, LittleEndian: true, InitialBytesToStrip: 4},
			wire: []byte("\x03\x00\x00\x00abc"),
			want: [][]byte{[]byte("abc")},
		},
		{
			name: "len8 big endian",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 8, InitialBytesToStrip: 8},
			wire: []byte("\x00\x00\x00\x00\x00\x00\x00\x02hi"),
			want: [][]byte{[]byte("hi")},
		},
		{
			name: "len3 little endian partial strip",
			cfg:  LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 3, LittleEndian: true, InitialBytesToStrip: 1},
			wire: []byte("\x02\x00\x00hi"),
			want: [][]byte{[]byte("\x00\x00hi")},
		},
		{
			name: "frame exactly max",
			cfg:  LengthFieldConfig{MaxFrameLength: 5, LengthFieldLength: 2},
			wire: []byte("\x00\x03abc"),
			want: [][]byte{[]byte("\x00\x03abc")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewLengthField(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkSplits(t, f.Decode, tc.wire, tc.want)
		})
	}
}

func TestLengthFieldErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LengthFieldConfig
		wire    []byte
		wantErr error
	}{
		{
			name:    "declared length past max, body not sent",
			cfg:     LengthFieldConfig{MaxFrameLength: 100, LengthFieldLength: 4},
			wire:    []byte("\x7f\xff\xff\xff"),
			wantErr: ErrFrameTooLarge,
		},
		{
			name:    "one over max",
			cfg:     LengthFieldConfig{MaxFrameLength: 5, LengthFieldLength: 2},
			wire:    []byte("\x00\x04"),
			wantErr: ErrFrameTooLarge,
		},
		{
			name:    "8-byte length near 2^64",
			cfg:     LengthFieldConfig{MaxFrameLength: 1 << 20, LengthFieldLength: 8},
			wire:    []byte("\xff\xff\xff\xff\xff\xff\xff\xff"),
			wantErr: ErrFrameTooLarge,
		},
		{
			name:    "adjusted length shorter than header",
			cfg:     LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2, LengthAdjustment: -4},
			wire:    []byte("\x00\x01"),
			wantErr: ErrMalformed,
		},
		{
			name:    "strip more than frame",
			cfg:     LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 1, InitialBytesToStrip: 5},
			wire:    []byte("\x01x"),
			wantErr: ErrMalformed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewLengthField(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = feed(t, f.Decode, tc.wire)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if !bytes.Contains([]byte(err.Error()), []byte("offset")) {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

func TestLengthFieldConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   LengthFieldConfig
		field string
	}{
		{name: "bad width", cfg: LengthFieldConfig{MaxFrameLength: 10, LengthFieldLength: 5}, field: "LengthFieldLength"},
		{name: "no max", cfg: LengthFieldConfig{LengthFieldLength: 2}, field: "MaxFrameLength"},
		{name: "negative offset", cfg: LengthFieldConfig{MaxFrameLength: 10, LengthFieldOffset: -1}, field: "LengthFieldOffset"},
		{name: "huge offset", cfg: LengthFieldConfig{MaxFrameLength: 100, LengthFieldOffset: 17}, field: "LengthFieldOffset"},
		{name: "negative strip", cfg: LengthFieldConfig{MaxFrameLength: 10, InitialBytesToStrip: -1}, field: "InitialBytesToStrip"},
		{name: "huge adjustment", cfg: LengthFieldConfig{MaxFrameLength: 10, LengthAdjustment: 1 << 40}, field: "LengthAdjustment"},
		{name: "max below header", cfg: LengthFieldConfig{MaxFrameLength: 3, LengthFieldLength: 4}, field: "MaxFrameLength"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLengthField(tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.field)) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestLengthFieldEncode(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LengthFieldConfig
		prefix  []byte
		body    []byte
		want    []byte
		wantErr error
	}{
		{name: "len2 be", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2}, body: []byte("abc"), want: []byte("\x00\x03abc")},
		{name: "len3 le", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 3, LittleEndian: true}, body: []byte("abc"), want: []byte("\x03\x00\x00abc")},
		{name: "length counts header", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 2, LengthAdjustment: -2}, body: []byte("abc"), want: []byte("\x00\x05abc")},
		{name: "prefix", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 2, LengthFieldLength: 1}, prefix: []byte("\xca\xfe"), body: []byte("x"), want: []byte("\xca\xfe\x01x")},
		{name: "nil prefix is zeros", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 2, LengthFieldLength: 1}, body: []byte("x"), want: []byte("\x00\x00\x01x")},
		{name: "wrong prefix size", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldOffset: 2, LengthFieldLength: 1}, prefix: []byte("x"), wantErr: ErrInvalidConfig},
		{name: "too large", cfg: LengthFieldConfig{MaxFrameLength: 4, LengthFieldLength: 2}, body: []byte("abc"), wantErr: ErrFrameTooLarge},
		{name: "value overflows width", cfg: LengthFieldConfig{MaxFrameLength: 1000, LengthFieldLength: 1}, body: make([]byte, 256), wantErr: ErrInvalidConfig},
		{name: "adjustment makes value negative", cfg: LengthFieldConfig{MaxFrameLength: 64, LengthFieldLength: 1, LengthAdjustment: 4}, body: []byte("ab"), wantErr: ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewLengthField(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.AppendFrame(nil, tc.prefix, tc.body)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("AppendFrame = %q, %v; want %q", got, err, tc.want)
			}
			// Encode through a plain Sink and a VectorSink gives the same bytes.
			var plain plainSink
			if err := f.Encode(&plain, tc.prefix, tc.body); err != nil || !bytes.Equal(plain.b, tc.want) {
				t.Fatalf("Encode(Sink) = %q, %v; want %q", plain.b, err, tc.want)
			}
			var vec Bytes
			if err := f.Encode(&vec, tc.prefix, tc.body); err != nil || !bytes.Equal(vec.Bytes(), tc.want) {
				t.Fatalf("Encode(VectorSink) = %q, %v; want %q", vec.Bytes(), err, tc.want)
			}
			// And it decodes back to the whole frame (nothing stripped).
			frames, err := feed(t, f.Decode, got)
			if err != nil || len(frames) != 1 || !bytes.Equal(frames[0], tc.want) {
				t.Fatalf("decode(encode) = %q, %v", frames, err)
			}
		})
	}
}

// plainSink is a Sink that is not a VectorSink.
type plainSink struct{ b []byte }

func (s *plainSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

func TestLengthFieldZeroAllocs(t *testing.T) {
	f, err := NewLengthField(LengthFieldConfig{MaxFrameLength: 1 << 20, InitialBytesToStrip: 4})
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := f.AppendFrame(nil, nil, bytes.Repeat([]byte("x"), 1024))
	src := NewBytes(wire)
	var sink Bytes
	sink.Write(make([]byte, 4096))
	allocs := testing.AllocsPerRun(100, func() {
		src.off = 0
		frame, n, err := f.Decode(src)
		if err != nil || n != len(wire) || len(frame) != 1024 {
			t.Fatalf("Decode = %d bytes, n=%d, %v", len(frame), n, err)
		}
		sink.Reset()
		if err := f.Encode(&sink, nil, frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode+Encode allocate %v times per frame, want 0", allocs)
	}
}

// FuzzLengthField decodes arbitrary bytes under a fuzzed configuration
// (never panics, frames within the limit, the same frames whatever the read
// split) and checks decode(encode(body)) for that configuration.
func FuzzLengthField(f *testing.F) {
	f.Add(uint8(2), uint8(0), int8(0), uint8(2), false, uint16(64), uint8(1), []byte("\x00\x03abc\x00\x00"))
	f.Add(uint8(3), uint8(2), int8(2), uint8(0), true, uint16(64), uint8(4), []byte("\xca\xfe\x0c\x00\x00HELLO, WORLD"))
	f.Add(uint8(8), uint8(0), int8(-8), uint8(8), false, uint16(1000), uint8(3), []byte("\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add(uint8(1), uint8(1), int8(-3), uint8(3), false, uint16(10), uint8(0), []byte("\xca\x10\xfeHELLO"))
	f.Add(uint8(4), uint8(0), int8(0), uint8(4), true, uint16(0), uint8(0), []byte(""))
	f.Fuzz(func(t *testing.T, width, offset uint8, adjust int8, strip uint8, little bool, max uint16, split uint8, data []byte) {
		widths := [...]int{1, 2, 3, 4, 8}
		cfg := LengthFieldConfig{
			MaxFrameLength:      int(max) + 1,
			LengthFieldLength:   widths[int(width)%len(widths)],
			LengthFieldOffset:   int(offset % 4),
			LengthAdjustment:    int(adjust),
			InitialBytesToStrip: int(strip % 16),
			LittleEndian:        little,
		}
		lf, err := NewLengthField(cfg)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("config error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		whole := checkSplitSame(t, func() decodeFunc { return lf.Decode }, int(split), data)
		checkAllocs(t, data, func(s Source) (int, error) {
			_, n, err := lf.Decode(s)
			return n, err
		})
		for _, fr := range whole {
			if len(fr) > cfg.MaxFrameLength {
				t.Fatalf("frame of %d bytes passed max %d", len(fr), cfg.MaxFrameLength)
			}
		}

		// Round trip: data is the body; the prefix is data's first bytes.
		prefix := make([]byte, cfg.LengthFieldOffset)
		copy(prefix, data)
		wire, err := lf.AppendFrame(nil, prefix, data)
		if err != nil {
			if !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("encode error %v", err)
			}
			return
		}
		frames, err := feed(t, lf.Decode, wire)
		if err != nil {
			// Only a strip beyond the frame is allowed to fail here.
			if errors.Is(err, ErrMalformed) && cfg.InitialBytesToStrip > len(wire) {
				return
			}
			t.Fatalf("decode(encode) of %d-byte body: %v", len(data), err)
		}
		if len(frames) != 1 || !bytes.Equal(frames[0], wire[cfg.InitialBytesToStrip:]) {
			t.Fatalf("decode(encode) = %q, want %q", frames, wire[cfg.InitialBytesToStrip:])
		}
	})
}
