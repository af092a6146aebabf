package loadbench

import (
	"context"
	"testing"
	"time"
)

// TestPerIgnoresOneStall: one 100 ms stall among 50 calls would add 2 ms to a
// plain mean; the median of round means leaves it out.
func TestPerIgnoresOneStall(t *testing.T) {
	calls := 0
	d := per(50, func() error {
		calls++
		if calls == 30 { // after the warm-up of 6, in the third round
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	})
	if d > time.Millisecond {
		t.Fatalf("per = %v: the stall moved the measurement", d)
	}
	if calls != 56 {
		t.Fatalf("%d calls, want 6 warm-up + 50", calls)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{5, 1, 9, 3, 7}); got != 5 {
		t.Fatalf("median = %v", got)
	}
}

// TestRateFollowsTheSchedule: with --rate, starts follow start + i/rate (a
// ticker dropped ticks), and a start that had to wait for a busy user counts
// its wait in the latency.
func TestRateFollowsTheSchedule(t *testing.T) {
	c := &client{}
	cfg := Config{Users: 4, Rate: 400, Duration: 500 * time.Millisecond}
	res, err := c.runFlow(context.Background(), "paced", cfg, func(context.Context, string) (step, error) {
		return func(context.Context) error { return nil }, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 170 || res.Requests > 202 {
		t.Fatalf("%d starts in 0.5 s at 400/s, want about 200", res.Requests)
	}

	// One user, 100/s, each flow 30 ms: every start after the first is late
	// by a growing backlog, and the latency shows it.
	cfg = Config{Users: 1, Rate: 100, Duration: 300 * time.Millisecond}
	res, err = c.runFlow(context.Background(), "behind", cfg, func(context.Context, string) (step, error) {
		return func(context.Context) error { time.Sleep(30 * time.Millisecond); return nil }, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.P99 < Millis(45*time.Millisecond) {
		t.Fatalf("p99 %v ms with a growing backlog: the wait for a free user is not counted", res.P99)
	}
}
