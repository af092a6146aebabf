// Package redislimit is the ratelimit.Limiter every Signet replica shares: GCRA in Redis
// through github.com/go-redis/redis_rate (one Lua script per decision on Redis's own clock,
// so replicas with skewed clocks still agree).
package redislimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ratelimit"
)

// Limiter is a ratelimit.Limiter over Redis.
type Limiter struct {
	l       *redis_rate.Limiter
	prefix  string
	timeout time.Duration
}

// New returns a Limiter whose keys start with prefix (after redis_rate's own "rate:").
// Each decision waits at most timeout (a limiter must not hold a request up for long;
// a slow Redis is reported as ratelimit.ErrUnavailable).
func New(client redis.UniversalClient, prefix string, timeout time.Duration) *Limiter {
	if timeout <= 0 {
		timeout = 250 * time.Millisecond
	}
	return &Limiter{l: redis_rate.NewLimiter(client), prefix: prefix, timeout: timeout}
}

// Allow implements ratelimit.Limiter.
func (r *Limiter) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	if l.Off() {
		return ratelimit.Result{Allowed: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The limit is part of the key: two endpoints sharing a key with different limits
	// would otherwise read each other's GCRA state at the wrong rate.
	res, err := r.l.Allow(ctx, r.prefix+key+"|"+l.String(), redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period})
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, err)
	}
	if res.Allowed > 0 {
		return ratelimit.Result{Allowed: true}, nil
	}
	return ratelimit.Result{RetryAfter: res.RetryAfter}, nil
}
