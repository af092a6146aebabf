package webhook

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	b := newBreakers(BreakerConfig{Failures: 3, Cooldown: time.Second, MaxCooldown: 4 * time.Second})
	t0 := time.Unix(1000, 0)
	const k = "https://bank.example"
	steps := []struct {
		name      string
		at        time.Duration
		fail, ok  bool // record a failure / a success before asking
		wantAllow bool
		wantState string
	}{
		{name: "new endpoint is closed", wantAllow: true, wantState: "closed"},
		{name: "one failure keeps it closed", fail: true, wantAllow: true, wantState: "closed"},
		{name: "two failures keep it closed", fail: true, wantAllow: true, wantState: "closed"},
		{name: "third failure opens it", fail: true, wantAllow: false, wantState: "open"},
		{name: "still open before the cooldown", at: 900 * time.Millisecond, wantAllow: false, wantState: "open"},
		{name: "half-open after the cooldown lets one trial through", at: time.Second, wantAllow: true, wantState: "half-open"},
		{name: "no second trial while one is in flight", at: time.Second, wantAllow: false, wantState: "half-open"},
		{name: "failed trial reopens for twice as long", at: time.Second, fail: true, wantAllow: false, wantState: "open"},
		{name: "still open within the doubled cooldown", at: 2900 * time.Millisecond, wantAllow: false, wantState: "open"},
		{name: "half-open again after it", at: 3 * time.Second, wantAllow: true, wantState: "half-open"},
		{name: "successful trial closes it", at: 3 * time.Second, ok: true, wantAllow: true, wantState: "closed"},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.fail {
			b.failure(k, now)
		}
		if s.ok {
			b.success(k)
		}
		if got := b.state(k, now); got != s.wantState {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.wantState)
		}
		if ok, _ := b.allow(k, now); ok != s.wantAllow {
			t.Fatalf("%s: allow %v, want %v", s.name, ok, s.wantAllow)
		}
	}
	if ok, _ := b.allow("https://other.example", t0); !ok {
		t.Fatal("circuits are per endpoint")
	}
}

func TestBackoffGrowsWithJitterAndCaps(t *testing.T) {
	w := &Worker{cfg: WorkerConfig{BackoffBase: time.Second, BackoffMax: 16 * time.Second}}
	for _, tt := range []struct {
		attempts int
		full     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {40, 16 * time.Second}} {
		for range 50 {
			d := w.backoff(tt.attempts)
			if d < tt.full/2 || d > tt.full {
				t.Fatalf("attempt %d: %s outside [%s, %s]", tt.attempts, d, tt.full/2, tt.full)
			}
		}
	}
}

func TestEndpointKey(t *testing.T) {
	for in, want := range map[string]string{
		"https://bank.example/hooks/a?x=1": "https://bank.example",
		"https://bank.example:8443/b":      "https://bank.example:8443",
		"http://127.0.0.1:9000/":           "http://127.0.0.1:9000",
		"::bad":                            "::bad",
	} {
		if got := endpointKey(in); got != want {
			t.Errorf("endpointKey(%q) = %q, want %q", in, got, want)
		}
	}
}
