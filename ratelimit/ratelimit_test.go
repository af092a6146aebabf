package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Limit
		bad  bool
	}{
		{in: "", bad: true},
		{in: "10", bad: true},
		{in: "x/s", bad: true},
		{in: "-1/s", bad: true},
		{in: "10/ms", bad: true},
		{in: "10/500ms", bad: true}, // below 1s
		{in: "10/48h", bad: true},
		{in: "10/s:0", bad: true},
		{in: "10/s:x", bad: true},
		{in: "off", want: Limit{}},
		{in: "0", want: Limit{}},
		{in: "10/s", want: Limit{Rate: 10, Period: time.Second, Burst: 10}},
		{in: "10/s:50", want: Limit{Rate: 10, Period: time.Second, Burst: 50}},
		{in: "5/m", want: Limit{Rate: 5, Period: time.Minute, Burst: 5}},
		{in: "10/1m30s:3", want: Limit{Rate: 10, Period: 90 * time.Second, Burst: 3}},
	} {
		got, err := ParseLimit(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseLimit(%q) = %v; want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, err := ParseLimit(got.String()); err != nil || back != got {
			t.Errorf("ParseLimit(%q.String()) = %v, %v", c.in, back, err)
		}
	}
}

// clock is an injected time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestMemoryBurstThenRefuseThenRefill(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(0, clk.now)
	l := Limit{Rate: 10, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	for i := range 3 {
		if r, _ := m.Allow(ctx, "op:a", l); !r.Allowed {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	r, err := m.Allow(ctx, "op:a", l)
	if err != nil || r.Allowed {
		t.Fatalf("4th event within the burst: %+v, %v; want refused", r, err)
	}
	if r.RetryAfter <= 0 || r.RetryAfter > 6*time.Second {
		t.Errorf("RetryAfter = %v; want (0, 6s] (one token per 6 s)", r.RetryAfter)
	}
	// Positive control: another key is untouched.
	if r, _ := m.Allow(ctx, "op:b", l); !r.Allowed {
		t.Error("another key refused")
	}
	// A refused event takes no token: after one period of 6 s exactly one more passes.
	for range 5 {
		m.Allow(ctx, "op:a", l)
	}
	clk.advance(6 * time.Second)
	if r, _ := m.Allow(ctx, "op:a", l); !r.Allowed {
		t.Error("refused after the bucket refilled one token")
	}
	if r, _ := m.Allow(ctx, "op:a", l); r.Allowed {
		t.Error("two events allowed after one token refilled")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	m := NewMemory(100, nil)
	l := Limit{Rate: 1, Period: time.Second, Burst: 1}
	for i := range 10_000 {
		m.Allow(context.Background(), "ip:"+string(rune(i)), l)
	}
	if m.Len() > 100 {
		t.Errorf("Memory tracks %d keys; want at most 100", m.Len())
	}
}

func TestOffAllowsEverything(t *testing.T) {
	m := NewMemory(0, nil)
	for range 100 {
		if r, _ := m.Allow(context.Background(), "k", Limit{}); !r.Allowed {
			t.Fatal("the zero limit refused")
		}
	}
}

type failing struct{ calls int }

func (f *failing) Allow(context.Context, string, Limit) (Result, error) {
	f.calls++
	return Result{}, ErrUnavailable
}

func TestFallbackDecidesLocallyWhenPrimaryFails(t *testing.T) {
	var reported []error
	primary := &failing{}
	f := Fallback{Primary: primary, Secondary: NewMemory(0, nil), OnError: func(err error) { reported = append(reported, err) }}
	l := Limit{Rate: 1, Period: time.Hour, Burst: 2}
	var allowed int
	for range 5 {
		r, err := f.Allow(context.Background(), "k", l)
		if err != nil {
			t.Fatalf("Allow = %v; want the secondary's decision", err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("%d of 5 allowed with the primary down; want the secondary's burst of 2", allowed)
	}
	if len(reported) != 5 || !errors.Is(reported[0], ErrUnavailable) || primary.calls != 5 {
		t.Errorf("reported %d errors (%v), primary asked %d times; want 5 each", len(reported), reported, primary.calls)
	}
}
