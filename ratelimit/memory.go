package ratelimit

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultMemoryKeys bounds the keys Memory tracks.
const DefaultMemoryKeys = 100_000

// Memory is the in-process Limiter: one golang.org/x/time/rate token bucket per key, kept in
// an LRU of at most maxKeys entries so that a flood of distinct addresses or ids cannot grow
// memory without bound. A key pushed out of the LRU starts again with a full bucket, so the
// bound trades memory for precision only under a flood of more than maxKeys distinct keys.
type Memory struct {
	mu   sync.Mutex
	keys *lru.Cache[memKey, *rate.Limiter]
	now  func() time.Time
}

type memKey struct {
	key   string
	limit Limit
}

// NewMemory returns a Memory tracking at most maxKeys keys (DefaultMemoryKeys when ≤ 0);
// now may be nil (time.Now).
func NewMemory(maxKeys int, now func() time.Time) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMemoryKeys
	}
	if now == nil {
		now = time.Now
	}
	c, _ := lru.New[memKey, *rate.Limiter](maxKeys) // err only for size ≤ 0
	return &Memory{keys: c, now: now}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	if l.Off() {
		return Result{Allowed: true}, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey{key, l}
	lim, ok := m.keys.Get(k)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(float64(l.Rate)/l.Period.Seconds()), l.Burst)
		m.keys.Add(k, lim)
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused event takes no token
		return Result{RetryAfter: d}, nil
	}
	return Result{Allowed: true}, nil
}

// Len is the number of keys tracked (tests).
func (m *Memory) Len() int { return m.keys.Len() }
