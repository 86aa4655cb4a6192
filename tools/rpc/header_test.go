package rpc

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeHeader(t *testing.T) {
	good := AppendHeader(nil, Header{ID: 0x0102030405060708, Method: 7, Flags: FlagResponse, Status: StatusApplication}, 3)
	good = append(good, "abc"...)
	tests := []struct {
		name    string
		frame   []byte
		want    Header
		wantErr error
	}{
		{name: "response", frame: good, want: Header{Length: 15, ID: 0x0102030405060708, Method: 7, Flags: FlagResponse, Status: StatusApplication}},
		{name: "empty request", frame: AppendHeader(nil, Header{ID: 1, Method: 2}, 0), want: Header{Length: 12, ID: 1, Method: 2}},
		{name: "short", frame: good[:HeaderSize-1], wantErr: ErrBadHeader},
		{name: "length disagrees", frame: good[:len(good)-1], wantErr: ErrBadHeader},
		{name: "unknown flag", frame: func() []byte { b := bytes.Clone(good); b[14] |= 0x80; return b }(), wantErr: ErrBadHeader},
		{name: "unknown status", frame: func() []byte { b := bytes.Clone(good); b[15] = byte(statusCount); return b }(), wantErr: ErrBadHeader},
		{name: "status in a request", frame: func() []byte { b := bytes.Clone(good); b[14] = 0; return b }(), wantErr: ErrBadHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DecodeHeader(tc.frame)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.want {
				t.Fatalf("got %+v, want %+v", h, tc.want)
			}
			if h.PayloadLen() != len(tc.frame)-HeaderSize {
				t.Fatalf("PayloadLen %d, frame has %d", h.PayloadLen(), len(tc.frame)-HeaderSize)
			}
		})
	}
}

// FuzzDecodeHeader: any bytes either decode to a header that encodes back
// to the same bytes, or fail with ErrBadHeader; never a panic.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(AppendHeader(nil, Header{ID: 9, Method: 1}, 0))
	f.Add(append(AppendHeader(nil, Header{ID: 1 << 40, Method: 65535, Flags: FlagResponse, Status: StatusBusy}, 2), 'o', 'k'))
	f.Add([]byte{0, 0, 0, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		if h.PayloadLen() != len(b)-HeaderSize {
			t.Fatalf("PayloadLen %d for a %d-byte frame", h.PayloadLen(), len(b))
		}
		again := AppendHeader(nil, h, h.PayloadLen())
		if !bytes.Equal(again, b[:HeaderSize]) {
			t.Fatalf("round trip: %x, want %x", again, b[:HeaderSize])
		}
		var put [HeaderSize]byte
		putHeader(put[:], h, h.PayloadLen())
		if !bytes.Equal(put[:], again) {
			t.Fatalf("putHeader %x, AppendHeader %x", put, again)
		}
	})
}
