package webhook

import (
	"sync"
	"time"
)

// BreakerConfig configures the per-endpoint circuit breaker. Zero values take the defaults in
// brackets.
type BreakerConfig struct {
	// Failures in a row that open the circuit [5].
	Failures int
	// Cooldown is how long the circuit first stays open [30s]; each failed trial doubles it, up
	// to MaxCooldown [10m].
	Cooldown    time.Duration
	MaxCooldown time.Duration
}

// breakers is one circuit per endpoint: closed (deliver), open (defer every event until the
// cooldown ends), half-open (one trial delivery; success closes, failure reopens for longer).
// State is per process: each replica learns an endpoint's health by itself.
type breakers struct {
	cfg BreakerConfig
	mu  sync.Mutex
	m   map[string]*circuit
}

type circuit struct {
	failures  int
	openUntil time.Time
	cooldown  time.Duration
	trial     bool // a half-open trial is in flight
}

func newBreakers(cfg BreakerConfig) *breakers {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.MaxCooldown < cfg.Cooldown {
		cfg.MaxCooldown = max(10*time.Minute, cfg.Cooldown)
	}
	return &breakers{cfg: cfg, m: map[string]*circuit{}}
}

// allow reports whether an event for key may be delivered now; if not, when to try again.
func (b *breakers) allow(key string, now time.Time) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.m[key]
	switch {
	case c == nil || c.openUntil.IsZero():
		return true, time.Time{}
	case now.Before(c.openUntil):
		return false, c.openUntil
	case c.trial:
		return false, now.Add(max(b.cfg.Cooldown/4, 10*time.Millisecond))
	}
	c.trial = true // half-open: this one delivery decides
	return true, time.Time{}
}

func (b *breakers) success(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

func (b *breakers) failure(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.m[key]
	if c == nil {
		c = &circuit{}
		b.m[key] = c
	}
	c.failures++
	wasOpen := !c.openUntil.IsZero()
	c.trial = false
	if c.failures < b.cfg.Failures && !wasOpen {
		return
	}
	if c.cooldown == 0 {
		c.cooldown = b.cfg.Cooldown
	} else if wasOpen {
		c.cooldown = min(c.cooldown*2, b.cfg.MaxCooldown)
	}
	c.openUntil = now.Add(c.cooldown)
}

// state reports a circuit's state for tests and metrics: "closed", "open" or "half-open".
func (b *breakers) state(key string, now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.m[key]
	switch {
	case c == nil || c.openUntil.IsZero():
		return "closed"
	case now.Before(c.openUntil):
		return "open"
	}
	return "half-open"
}
