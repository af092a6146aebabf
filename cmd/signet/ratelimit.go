package main

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/ratelimit/redislimit"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
)

// sharedLimiter is the rate limiter of a deployment with Redis: GCRA in Redis, shared by every
// replica, and — when Redis cannot answer within 250 ms — the same limits per replica in
// process. Rate limiting is a secondary control: a Redis outage must not refuse every public
// request (PowerAuth status checks, JWKS fetches), nor lift every limit. Approvals still fail
// closed on Redis through the replay store; the attempt counters that bound guessing live in
// the database. Each fallback is counted (signet_rate_limiter_fallbacks_total) and logged at
// most once a minute.
func sharedLimiter(redisURL string, reg *prometheus.Registry, logger *slog.Logger) (ratelimit.Limiter, func(), error) {
	client, err := redisreplay.NewClient(redisURL)
	if err != nil {
		return nil, nil, err
	}
	fallbacks := prometheus.NewCounter(prometheus.CounterOpts{Name: "signet_rate_limiter_fallbacks_total",
		Help: "Rate-limit decisions made in process because Redis could not answer."})
	reg.MustRegister(fallbacks)
	var lastLog atomic.Int64
	return ratelimit.Fallback{
		Primary:   redislimit.New(client, "signet:", 250*time.Millisecond),
		Secondary: ratelimit.NewMemory(0, nil),
		OnError: func(err error) {
			fallbacks.Inc()
			now := time.Now().Unix()
			if last := lastLog.Load(); now-last >= 60 && lastLog.CompareAndSwap(last, now) {
				logger.Warn("rate limiter: Redis unavailable, limiting per replica", "err", err)
			}
		},
	}, func() { _ = client.Close() }, nil
}
