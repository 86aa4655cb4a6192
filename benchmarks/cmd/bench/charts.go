package main

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var peerColors = map[string]color.Color{
	"net":      color.RGBA{0x99, 0x99, 0x99, 0xff},
	"gnet":     color.RGBA{0x1f, 0x77, 0xb4, 0xff},
	"netpoll":  color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	"nbio":     color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	"shardnet": color.RGBA{0xd6, 0x27, 0x28, 0xff},
	cPeer:      color.RGBA{0x22, 0x22, 0x22, 0xff},
}

// extraColors are the extra shardnet builds' bars, in the order they come.
var extraColors = []color.Color{
	color.RGBA{0x94, 0x67, 0xbd, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff},
	color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

func colorOf(peer string, i int) color.Color {
	if c, ok := peerColors[peer]; ok {
		return c
	}
	return extraColors[i%len(extraColors)]
}

// charts draws, as SVG and PNG, grouped bars (one group per cell, one bar per peer) of the
// echo rate, the echo server CPU per message and the HTTP rate.
func charts(out string, samples []Sample) error {
	stats, order := aggregate(samples)
	type chart struct {
		suite, file, title, ylabel string
		value                      func(*stat) float64
	}
	for _, c := range []chart{
		{"echo", "echo-rate.svg", "Echo, server on one pinned core: msgs/s (median)", "msgs/s (millions)", func(s *stat) float64 { return s.rate / 1e6 }},
		{"echo", "echo-cpu.svg", "Echo: server CPU time per message (median, lower is better)", "ns per message", func(s *stat) float64 { return s.cpuNs }},
		{"http", "http-rate.svg", "HTTP plaintext, server on one pinned core: req/s (median)", "req/s (millions)", func(s *stat) float64 { return s.rate / 1e6 }},
		{"echo-rate", "echo-rate-core.svg", "Echo at fixed rates: server core busy time per message (median, lower is better)", "ns per message", func(s *stat) float64 { return s.coreNs }},
	} {
		cellsOf := order[c.suite]
		if len(cellsOf) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = c.title
		p.Y.Label.Text = c.ylabel
		w := vg.Points(11)
		ps := measured(c.suite, cellsOf, stats)
		for i, peer := range ps {
			vals := make(plotter.Values, len(cellsOf))
			for j, cell := range cellsOf {
				if st := stats[key{c.suite, cell, peer}]; st != nil && st.n > 0 {
					vals[j] = max(0, c.value(st))
				}
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return err
			}
			bars.LineStyle.Width = 0
			bars.Color = colorOf(peer, i)
			bars.Offset = w * vg.Length(i-len(ps)/2)
			p.Add(bars)
			p.Legend.Add(peer, bars)
		}
		p.Legend.Top = true
		p.NominalX(cellsOf...)
		width := vg.Length(len(cellsOf))*vg.Points(75) + vg.Points(80)
		for _, f := range []string{c.file, strings.TrimSuffix(c.file, ".svg") + ".png"} {
			if err := p.Save(width, 4*vg.Inch, filepath.Join(out, f)); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return nil
}
