package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit allows Rate events per Period with bursts of up to Burst events (a token bucket
// whose capacity is Burst, refilled at Rate/Period; GCRA is the same rule kept as one
// timestamp). The zero Limit is "no limit".
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Off reports whether l is the zero Limit (no limit).
func (l Limit) Off() bool { return l.Rate == 0 }

// String is the form ParseLimit reads: "10/1s:20", or "off".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s:%d", l.Rate, l.Period, l.Burst)
}

// ParseLimit reads "<rate>/<period>[:<burst>]" (period a Go duration or one of s, m, h;
// burst defaults to rate), or "off" / "0" for no limit. Examples: "10/s:50", "10/1m", "5/m".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Limit{}, nil
	}
	rateStr, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, fmt.Errorf("limit %q is not <rate>/<period>[:<burst>] or off", s)
	}
	periodStr, burstStr, hasBurst := strings.Cut(rest, ":")
	rate, err := strconv.Atoi(rateStr)
	if err != nil || rate < 1 || rate > 1_000_000 {
		return Limit{}, fmt.Errorf("limit %q: rate must be a whole number from 1 to 1000000", s)
	}
	var period time.Duration
	switch periodStr {
	case "s":
		period = time.Second
	case "m":
		period = time.Minute
	case "h":
		period = time.Hour
	default:
		if period, err = time.ParseDuration(periodStr); err != nil {
			return Limit{}, fmt.Errorf("limit %q: period must be s, m, h or a duration such as 10s", s)
		}
	}
	if period < time.Second || period > 24*time.Hour {
		return Limit{}, fmt.Errorf("limit %q: period must be between 1s and 24h", s)
	}
	burst := rate
	if hasBurst {
		if burst, err = strconv.Atoi(burstStr); err != nil || burst < 1 || burst > 1_000_000 {
			return Limit{}, fmt.Errorf("limit %q: burst must be a whole number from 1 to 1000000", s)
		}
	}
	return Limit{Rate: rate, Period: period, Burst: burst}, nil
}

// UnmarshalText lets configuration loaders read a Limit.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Result is one decision.
type Result struct {
	Allowed bool
	// RetryAfter: when refused, how long until one more event would be allowed.
	RetryAfter time.Duration
}

// ErrUnavailable wraps a backend failure (Redis down): no decision was made.
var ErrUnavailable = errors.New("ratelimit: backend unavailable")

// Limiter decides one event for key under l.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Fallback asks Primary and, when it cannot decide (ErrUnavailable or any error), asks
// Secondary instead and reports the failure through OnError. Signet pairs Redis (limits
// shared by every replica) with Memory (limits per replica): rate limiting is a secondary
// control, so a Redis outage degrades it to per-replica limits rather than refusing every
// public request or lifting every limit.
type Fallback struct {
	Primary, Secondary Limiter
	OnError            func(error)
}

// Allow implements Limiter.
func (f Fallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	r, err := f.Primary.Allow(ctx, key, l)
	if err == nil {
		return r, nil
	}
	if f.OnError != nil {
		f.OnError(err)
	}
	return f.Secondary.Allow(ctx, key, l)
}
