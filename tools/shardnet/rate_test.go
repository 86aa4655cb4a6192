package main

import (
	"strconv"
	"testing"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"500000", 500000, false},
		{"10MB", 10_000_000, false},
		{"10M", 10_000_000, false},
		{"100MB/s", 100_000_000, false},
		{"1.5M", 1_500_000, false},
		{"64KiB", 65536, false},
		{"64Ki", 65536, false},
		{"2GiB/s", 2 << 30, false},
		{"1G", 1_000_000_000, false},
		{"8k", 8000, false},
		{"10B", 10, false},
		{"MB", 0, true},
		{"ten", 0, true},
		{"-1M", 0, true},
		{"1e6", 0, true},
		{"0x10", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"0.5", 0, true},
		{"10 MB", 0, true},
		{"10Mb", 0, true},
		{"9999999999G", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRate(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseRate(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseRate: never panics, never negative, and a plain integer reads
// back as itself.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10MB", "64KiB/s", "1.5M", "0", "", "-3", "1e9", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseRate(s)
		if err != nil {
			return
		}
		if v < 0 || v > 1<<50 {
			t.Fatalf("parseRate(%q) = %d", s, v)
		}
		if n, perr := strconv.ParseInt(s, 10, 64); perr == nil && n > 0 && n <= 1<<50 && v != n {
			t.Fatalf("parseRate(%q) = %d, want %d", s, v, n)
		}
	})
}
