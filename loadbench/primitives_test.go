package loadbench

import (
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
