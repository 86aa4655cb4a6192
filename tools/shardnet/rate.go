package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rateUnits is what -rate-conn and -rate-total accept after the number:
// bytes per second, decimal (k, M, G: powers of 1000) or binary (Ki, Mi,
// Gi: powers of 1024), with an optional trailing "B" or "B/s".
const rateUnits = "bytes per second: a number with an optional unit, k|K|M|G (x1000) or Ki|Mi|Gi (x1024), with or without B or B/s: 10MB = 10,000,000 B/s, 64KiB = 65,536 B/s"

// parseRate reads a rate such as "10MB", "1.5M", "64KiB/s" or "500000"
// into bytes per second. "0" (or "") means no limit.
func parseRate(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	s = strings.TrimSuffix(s, "/s")
	s = strings.TrimSuffix(s, "B")
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30},
		{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9},
	} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || s == "" || strings.ContainsAny(s, "eEpPxX_") {
		return 0, fmt.Errorf("rate %q: want %s", in, rateUnits)
	}
	b := v * mult
	if math.IsNaN(b) || b < 0 || b > 1<<50 {
		return 0, fmt.Errorf("rate %q: out of range (0 to 1 PiB/s)", in)
	}
	if b > 0 && b < 1 {
		return 0, fmt.Errorf("rate %q: less than one byte per second", in)
	}
	return int64(b), nil
}

// rateFlag is a flag.Value holding a rate in bytes per second.
type rateFlag int64

func (r *rateFlag) String() string { return strconv.FormatInt(int64(*r), 10) }

func (r *rateFlag) Set(s string) error {
	v, err := parseRate(s)
	if err != nil {
		return err
	}
	*r = rateFlag(v)
	return nil
}
