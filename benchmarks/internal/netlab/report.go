package netlab

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Table writes results as a Markdown table: what ran, under which load,
// the throughput, the p99 and maximum latency, the failures (and how many
// were allowed), HAProxy's detection time, whether every promise held,
// and the notes.
func Table(w io.Writer, kind string, results []Result) {
	fmt.Fprintln(w, "| scenario | load | done | rate | p99 | max | failed (allowed) | detected in | held | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		rate := fmt.Sprintf("%.0f/s", r.PerSec)
		if r.MBPerSec > 0 {
			rate = fmt.Sprintf("%.0f/s, %.2f MB/s", r.PerSec, r.MBPerSec)
			if r.PerSec == 0 {
				rate = fmt.Sprintf("%.2f MB/s", r.MBPerSec)
			}
		}
		p99 := dur(r.P99)
		if r.P99 == 0 && r.MBPerSec > 0 && r.PerSec == 0 {
			p99 = "—" // a single transfer has no percentile; max is its time
		}
		held := "yes"
		if r.Err != nil {
			held = "**no**: " + r.Err.Error()
		}
		det := "—"
		if r.Detect > 0 {
			det = dur(r.Detect)
		}
		fmt.Fprintf(w, "| %s | %s %s | %d | %s | %s | %s | %d (%d) | %s | %s | %s |\n",
			r.Scenario, kind, r.Load, r.Done, rate, p99, dur(r.Max), r.Failed, r.Allowed, det, held, esc(r.Note))
	}
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
