package replay

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Memory store: at about 150 bytes an entry, 250 000 live tokens
// cost under 40 MiB, far above what one embedded-mode instance mints in a token lifetime.
const DefaultMaxEntries = 250_000

// Memory is an in-process Store for the embedded single-instance mode. It is exact (one
// mutex, no eventual consistency) but shared by nothing: several Signet replicas, or a gateway
// in another process, need a shared store such as redisreplay.
//
// Memory is bounded: expired entries are purged lazily on every call (a min-heap on expiry
// makes that O(log n) per expired entry), consumed entries are removed at once, and Record
// fails with ErrUnavailable rather than grow past the maximum. No goroutine is started.
type Memory struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[string]*memEntry
	queue   expiryQueue
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithMaxEntries sets the most live JTIs the store holds (default DefaultMaxEntries).
func WithMaxEntries(n int) MemoryOption {
	return func(m *Memory) {
		if n > 0 {
			m.max = n
		}
	}
}

// NewMemory returns an empty Memory store reading time from now (time.Now when nil).
func NewMemory(now func() time.Time, opts ...MemoryOption) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, max: DefaultMaxEntries, entries: make(map[string]*memEntry)}
	for _, o := range opts {
		o(m)
	}
	return m
}

var _ Store = (*Memory)(nil)

// Record implements Store.
func (m *Memory) Record(ctx context.Context, jti string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if jti == "" || ttl <= 0 {
		return ErrInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.purge(now)
	if _, ok := m.entries[jti]; ok {
		return ErrExists
	}
	if len(m.entries) >= m.max {
		return fmt.Errorf("%w: memory store holds %d live tokens", ErrUnavailable, m.max)
	}
	e := &memEntry{jti: jti, expires: now.Add(ttl)}
	m.entries[jti] = e
	heap.Push(&m.queue, e)
	return nil
}

// Consume implements Store.
func (m *Memory) Consume(ctx context.Context, jti string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purge(m.now())
	e, ok := m.entries[jti]
	if !ok {
		return ErrReplay
	}
	delete(m.entries, jti)
	heap.Remove(&m.queue, e.index)
	return nil
}

// Ping implements Store.
func (m *Memory) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Len returns the number of live (recorded, unconsumed, unexpired) JTIs.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purge(m.now())
	return len(m.entries)
}

// purge drops every entry whose expiry is not after now. Callers hold m.mu.
func (m *Memory) purge(now time.Time) {
	for len(m.queue) > 0 && !now.Before(m.queue[0].expires) {
		e := heap.Pop(&m.queue).(*memEntry)
		delete(m.entries, e.jti)
	}
}

type memEntry struct {
	jti     string
	expires time.Time
	index   int
}

// expiryQueue is a container/heap min-heap of entries by expiry.
type expiryQueue []*memEntry

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires.Before(q[j].expires) }
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *expiryQueue) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *expiryQueue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return e
}
