package grpcecho

import (
	"bytes"
	"testing"
)

func TestCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bytes", []byte("hello")},
		{"binary", []byte{0, 1, 2, 255}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Codec
			b, err := c.Marshal(&Msg{B: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			data := append([]byte(nil), b...) // grpc's receive buffer
			var out Msg
			if err := c.Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.B, tc.in) {
				t.Fatalf("round trip %q -> %q", tc.in, out.B)
			}
			if len(data) > 0 {
				data[0]++ // grpc may reuse the buffer once Unmarshal returns
				if !bytes.Equal(out.B, tc.in) {
					t.Fatal("Unmarshal kept grpc's buffer instead of a copy")
				}
			}
		})
	}
}

func TestCodecRejectsOtherTypes(t *testing.T) {
	var c Codec
	if _, err := c.Marshal("text"); err == nil {
		t.Error("Marshal took a string")
	}
	if err := c.Unmarshal(nil, new(string)); err == nil {
		t.Error("Unmarshal filled a string")
	}
	if c.Name() != "raw" {
		t.Errorf("Name() = %q", c.Name())
	}
}
