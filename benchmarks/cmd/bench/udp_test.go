package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestTargets20(t *testing.T) {
	mk := func(suite, cell, peer string, round int, rate, cpu, core float64) Sample {
		s := newSample(suite, cell, peer, round)
		s.Rate, s.ServerCPUPerMsgNs, s.CoreCPUPerMsgNs = rate, cpu, core
		return s
	}
	samples := []Sample{
		// 100 × 16: shardnet 1.6× and 1.4× the best Go peer (nbio, the
		// higher median), never compared with the slower net.
		mk("udp", "c100 64B x16", "shardnet", 1, 160, 1, 1),
		mk("udp", "c100 64B x16", "nbio", 1, 100, 1, 1),
		mk("udp", "c100 64B x16", "net", 1, 50, 1, 1),
		mk("udp", "c100 64B x16", "shardnet", 2, 140, 1, 1),
		mk("udp", "c100 64B x16", "nbio", 2, 100, 1, 1),
		mk("udp", "c100 64B x16", "net", 2, 50, 1, 1),
		// 1 × 1 wants level: 1.00× is met.
		mk("udp", "c1 64B x1", "shardnet", 1, 100, 1, 1),
		mk("udp", "c1 64B x1", "gnet", 1, 100, 1, 1),
		// Fixed rate: the best Go peer is the one with the lowest CPU.
		mk("udp-rate", "c100 64B x16 @50%", "shardnet", 1, 10, 70, 60),
		mk("udp-rate", "c100 64B x16 @50%", "net", 1, 10, 100, 100),
		mk("udp-rate", "c100 64B x16 @50%", "gnet", 1, 10, 200, 200),
		mk("udp-rate", "c1 64B x1 @50%", "shardnet", 1, 10, 110, 110),
		mk("udp-rate", "c1 64B x1 @50%", "net", 1, 10, 100, 100),
	}
	stats, order := aggregate(samples)
	got := targets20Markdown(samples, stats, order)
	for _, want := range []string{
		"| datagrams/s ≥ 1.5× best Go peer | c100 64B x16 | shardnet ÷ nbio: 1.50× (1.40–1.60) | 1.60, 1.40 | met |",
		"| datagrams/s ≥ 1.0× best Go peer | c1 64B x1 | shardnet ÷ gnet: 1.00× | 1.00 | met |",
		"| core CPU/msg ≤ 0.67× best Go peer | c100 64B x16 @50% | shardnet ÷ net: 0.60× | 0.60 | met |",
		"| server CPU/msg ≤ 0.67× best Go peer | c100 64B x16 @50% | shardnet ÷ net: 0.70× | 0.70 | **missed** |",
		"| core CPU/msg ≤ 1.00× best Go peer | c1 64B x1 @50% | shardnet ÷ net: 1.10× | 1.10 | **missed** |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets20Markdown lacks %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "shardnet ÷ net: 3.") {
		t.Errorf("compared with a slower peer than the best:\n%s", got)
	}
	if s, o := aggregate(nil); targets20Markdown(nil, s, o) != "" {
		t.Error("a table without data")
	}
}

// TestProbeUDP: the probe waits for an echo, and gives up on a socket
// that does not answer.
func TestProbeUDP(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.LocalAddr().String()
	if err := probeUDP(addr, 300*time.Millisecond); err == nil {
		t.Fatal("a socket that never answers passed the probe")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	if err := probeUDP(addr, 5*time.Second); err != nil {
		t.Fatalf("echo server: %v", err)
	}
	c.Close()
	<-done
}
