package engine

import (
	"errors"
	"testing"
	"time"
)

func TestRateLimitCompile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rl      RateLimit
		want    rateCfg
		wantErr bool
	}{
		{name: "zero is off", rl: RateLimit{}, want: rateCfg{}},
		{name: "defaults", rl: RateLimit{Rate: 1_000_000}, want: rateCfg{perTick: 20_000, burst: 100_000, tick: 20 * time.Millisecond}},
		{name: "own tick and burst", rl: RateLimit{Rate: 10 << 20, Burst: 1 << 20, Tick: 50 * time.Millisecond}, want: rateCfg{perTick: 524288, burst: 1 << 20, tick: 50 * time.Millisecond}},
		{name: "burst below a tick", rl: RateLimit{Rate: 1_000_000, Burst: 100}, wantErr: true},
		{name: "negative rate", rl: RateLimit{Rate: -1}, wantErr: true},
		{name: "burst without rate", rl: RateLimit{Burst: 100}, wantErr: true},
		{name: "tick too short", rl: RateLimit{Rate: 1000, Tick: time.Microsecond}, wantErr: true},
		{name: "less than a byte per tick", rl: RateLimit{Rate: 10, Tick: 10 * time.Millisecond}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.rl.compile("test")
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidOption) {
					t.Fatalf("compile(%+v) = %+v, %v; want ErrInvalidOption", tc.rl, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("compile(%+v) = %+v, %v; want %+v", tc.rl, got, err, tc.want)
			}
		})
	}
}

func TestBucketRefill(t *testing.T) {
	rc := rateCfg{perTick: 100, burst: 250, tick: 10 * time.Millisecond}
	for _, tc := range []struct {
		name         string
		tokens       int64
		from, to     int64
		want         int64
		nowMs, after int64 // for bucket.refill: the bucket's tick, and now in ms
	}{
		{name: "same tick", tokens: 30, from: 5, to: 5, want: 30},
		{name: "one tick", tokens: 30, from: 5, to: 6, want: 130},
		{name: "up to the burst", tokens: 30, from: 5, to: 8, want: 250},
		{name: "debt is paid first", tokens: -150, from: 5, to: 7, want: 50},
		{name: "deep debt, long idle", tokens: -1000, from: 0, to: 1 << 40, want: 250},
		{name: "long idle does not overflow", tokens: 0, from: 0, to: 1 << 62, want: 250},
		{name: "clock behind", tokens: 30, from: 9, to: 8, want: 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rc.refilled(tc.tokens, tc.from, tc.to); got != tc.want {
				t.Fatalf("refilled(%d, %d, %d) = %d, want %d", tc.tokens, tc.from, tc.to, got, tc.want)
			}
		})
	}
	b := bucket{tokens: 0, tick: 0}
	b.refill(&rc, 25*time.Millisecond) // ticks 0 -> 2
	if b.tokens != 200 || b.tick != 2 {
		t.Fatalf("after 25 ms: %+v, want 200 tokens at tick 2", b)
	}
	if d := rc.nextTick(25 * time.Millisecond); d != 5*time.Millisecond {
		t.Fatalf("nextTick(25ms) = %v, want 5ms", d)
	}
}

// TestGroupShares drives a group bucket by hand: members that ask every
// tick split its tokens evenly, a member that stops asking leaves its
// part to the others from the next tick, and the total over many ticks is
// the rate however the members take.
func TestGroupShares(t *testing.T) {
	rc := rateCfg{perTick: 1000, burst: 1000, tick: 10 * time.Millisecond}
	var g groupBucket
	g.init(rc)
	g.members.Store(4)
	ms := make([]memberState, 4)
	for i := range ms {
		ms[i].tick = -1
	}
	at := func(tick int64) time.Duration { return time.Duration(tick)*rc.tick + time.Millisecond }
	total := int64(0)
	got := make([]int64, 4)
	// Ticks 1-50: all four read flat out, each taking what it is granted.
	for tick := int64(1); tick <= 50; tick++ {
		for round := 0; round < 3; round++ {
			for i := range ms {
				if n := g.grant(&ms[i], at(tick)); n > 0 {
					g.take(&ms[i], n)
					got[i] += n
					total += n
				}
			}
		}
	}
	for i, n := range got {
		if n < 50*250*9/10 || n > 50*250*11/10 {
			t.Errorf("member %d took %d over 50 ticks, want about %d", i, n, 50*250)
		}
	}
	if total > 51*1000 || total < 49*1000 {
		t.Errorf("the group moved %d over 50 ticks, want about %d", total, 50*1000)
	}
	// Ticks 51-100: only member 0 reads; after a tick it gets the lot.
	got0 := int64(0)
	for tick := int64(51); tick <= 100; tick++ {
		for round := 0; round < 3; round++ {
			if n := g.grant(&ms[0], at(tick)); n > 0 {
				g.take(&ms[0], n)
				got0 += n
			}
		}
	}
	if got0 < 48*1000 || got0 > 51*1000 {
		t.Errorf("alone, member 0 took %d over 50 ticks, want about %d", got0, 50*1000)
	}
	// An overdraw (two shards racing) is paid back from the next refill.
	g.take(&ms[1], 3000)
	if n := g.grant(&ms[0], at(101)); n > 0 {
		t.Errorf("after a 3000-byte overdraw the next tick grants %d", n)
	}
}
