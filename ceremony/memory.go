package ceremony

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// DefaultMemoryMax bounds the ceremonies a Memory holds when NewMemory is given 0: at about 1 KB
// each (go-webauthn's session data, the allowed credentials, the HPKE key id) some 50 MB, and with
// 5-minute ceremonies about 160 begins a second sustained, far beyond what one embedded instance
// approves (each approval hashes a passcode).
const DefaultMemoryMax = 50_000

// errFull refuses a Put when the Memory holds its maximum of unexpired ceremonies. Refusing the new
// ceremony, rather than evicting the oldest, keeps a flood of begins from cancelling the ceremonies
// customers are in the middle of; the flood's own begins get 503 until ceremonies expire.
var errFull = &fault.RetryAfterError{Err: fault.New(fault.ErrUnavailable, "too many ceremonies in progress; retry shortly"),
	After: time.Second}

// Memory holds ceremonies in this process. Safe for concurrent use.
type Memory struct {
	now func() time.Time
	max int

	mu sync.Mutex
	m  map[string]*store.Ceremony
	// order holds the ids of m in the order they were put: ceremonies of one service share one
	// timeout, so the oldest expire first and each Put drops the expired ones from the front.
	order []string
}

// NewMemory returns an empty Memory that judges expiry by now (time.Now when nil) and holds at
// most max ceremonies (DefaultMemoryMax when max <= 0), consumed ones included until they expire.
func NewMemory(now func() time.Time, max int) *Memory {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMemoryMax
	}
	return &Memory{now: now, max: max, m: map[string]*store.Ceremony{}}
}

// Put keeps c until c.ExpiresAt. A full Memory (max unexpired ceremonies) refuses it with
// fault.ErrUnavailable and Retry-After.
func (m *Memory) Put(_ context.Context, c store.Ceremony) error {
	c.Data = bytes.Clone(c.Data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now())
	if _, ok := m.m[c.ID]; ok || c.ID == "" {
		return fmt.Errorf("ceremony: put %q: %w", c.ID, store.ErrAlreadyExists)
	}
	if len(m.m) >= m.max {
		return errFull
	}
	m.m[c.ID] = &c
	m.order = append(m.order, c.ID)
	return nil
}

// sweep drops the expired ceremonies at the front of order. The caller holds mu.
func (m *Memory) sweep(now time.Time) {
	n := 0
	for _, id := range m.order {
		if c := m.m[id]; c != nil && now.Before(c.ExpiresAt) {
			break
		}
		delete(m.m, id)
		n++
	}
	// Re-slicing keeps the front of the array until append copies it away; clear the dropped ids
	// so the strings are not kept alive meanwhile.
	clear(m.order[:n])
	m.order = m.order[n:]
}

// Get returns ceremony id, consumed or not; store.ErrNotFound when it is not held (never put, or
// expired and swept).
func (m *Memory) Get(_ context.Context, id string) (store.Ceremony, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[id]
	if !ok {
		return store.Ceremony{}, fmt.Errorf("ceremony: get %q: %w", id, store.ErrNotFound)
	}
	out := *c
	out.Data = bytes.Clone(c.Data)
	return out, nil
}

// Consume marks ceremony id used: of concurrent calls exactly one succeeds (under mu); an unknown,
// expired or used ceremony gives store.ErrNotFound.
func (m *Memory) Consume(_ context.Context, id string) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[id]
	if !ok || c.ConsumedAt != nil || !now.Before(c.ExpiresAt) {
		return fmt.Errorf("ceremony: consume %q: %w", id, store.ErrNotFound)
	}
	t := now.UTC()
	c.ConsumedAt = &t
	return nil
}
