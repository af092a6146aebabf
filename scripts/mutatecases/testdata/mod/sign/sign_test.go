package sign

import "testing"

// The boundary at 100 is not tested: its CONDITIONALS_BOUNDARY mutant lives.
func TestOf(t *testing.T) {
	for n, want := range map[int]int{-5: -1, 0: 0, 7: 1, 1000: 2} {
		if got := Of(n); got != want {
			t.Errorf("Of(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestLabel(t *testing.T) {
	if got := Label(1); got != "n+1=2" {
		t.Errorf("Label(1) = %q", got)
	}
}
