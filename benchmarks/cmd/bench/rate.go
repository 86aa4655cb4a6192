package main

import (
	"fmt"
	"strconv"
)

// The fixed-rate suites (echo-rate, http-rate) run every echo and HTTP
// cell again at fixed offered rates below every server's saturation: a
// fraction (-rate-fractions) of the slowest server's median saturated rate
// in this run. At saturation the one-core client is the bottleneck and the
// rates tie; at an equal delivered rate the server's CPU per message and
// the latency tell the servers apart. Echo is paced by `shardnet bench
// -rate`, HTTP by c/httpload (wrk2-style; Debian has no wrk2): both send
// on a 100 µs schedule and time a late message from when it was due.

// calibrateSuite holds the saturated runs made only to find a rate (when
// the saturated suite is not part of this run); the tables leave it out.
const calibrateSuite = "calibrate"

// rateCellName names a fixed-rate cell after its saturated cell.
func rateCellName(base string, fraction float64) string {
	return fmt.Sprintf("%s @%.0f%%", base, 100*fraction)
}

// offeredRate returns the fixed rate for a cell: fraction of the lowest of
// the peers' median saturated rates in satSuite's cell base, from this
// run's samples (or merged ones). A peer without a saturated sample is
// run once at saturation first (satRun; suite "calibrate"). The rate is
// fixed on the first call, so every peer and round of the cell gets it.
func (d *driver) offeredRate(satSuite, base string, fraction float64, ps []string, satRun func(p string) Sample) float64 {
	k := satSuite + "/" + base
	slowest, ok := d.slowest[k]
	if !ok {
		slowest = -1
		for _, p := range ps {
			r := d.medianRate(satSuite, base, p)
			if r < 0 {
				r = d.medianRate(calibrateSuite, satSuite+" "+base, p)
			}
			if r < 0 {
				s := satRun(p)
				s.Suite, s.Cell = calibrateSuite, satSuite+" "+base
				fmt.Println(s.line())
				d.samples = append(d.samples, s)
				r = d.medianRate(calibrateSuite, satSuite+" "+base, p)
			}
			if r > 0 && (slowest < 0 || r < slowest) {
				slowest = r
			}
		}
		d.slowest[k] = slowest
	}
	if slowest <= 0 {
		return -1
	}
	return float64(int64(fraction * slowest))
}

// medianRate is the median rate of a peer's error-free samples of a cell,
// or -1.
func (d *driver) medianRate(suite, cell, peer string) float64 {
	var v []float64
	for _, s := range d.samples {
		if s.Suite == suite && s.Cell == cell && s.Peer == peer && s.Errors == 0 && s.Rate > 0 {
			v = append(v, s.Rate)
		}
	}
	return median(v)
}

// noteDelivery notes a fixed-rate run whose client delivered less than 97 %
// of the offered rate: the client or the server fell behind, so its CPU per
// message is not at the cell's rate.
func noteDelivery(s *Sample) {
	if s.Errors == 0 && s.Offered > 0 && s.Rate < 0.97*s.Offered {
		s.Note = fmt.Sprintf("delivered %.0f%% of the offered rate", 100*s.Rate/s.Offered)
	}
}

// runHTTPRate runs c/httpload at s.Offered (which is positive) against one
// peer's HTTP server, after checking its answers byte for byte.
func (d *driver) runHTTPRate(s Sample, spec httpSpec) Sample {
	srv, addr := d.startHTTPFor(&s, spec)
	if srv == nil {
		return s
	}
	defer srv.stop()
	bin, extra := d.httpsLoadArgs(spec)
	argv := []string{bin, "-addr", addr, "-c", strconv.Itoa(spec.conns),
		"-pipeline", strconv.Itoa(spec.pipeline), "-rate", strconv.Itoa(int(s.Offered)),
		"-duration", strconv.FormatFloat(d.duration.Seconds(), 'f', -1, 64), "-json"}
	argv = append(argv, extra...)
	return d.runReportClient(s, srv, reportClient{name: "httpload", pin: clientPin, argv: argv, tail: true, noMallocs: !d.httpMallocs(s.Peer, spec)}, true)
}
