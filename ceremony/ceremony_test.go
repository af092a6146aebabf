package ceremony_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/ceremony/ceremonytest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestContract runs the contract on every implementation.
func TestContract(t *testing.T) {
	for _, impl := range ceremonytest.Implementations() {
		t.Run(impl.Name, func(t *testing.T) {
			ceremonytest.Run(t, impl.Open(t))
		})
	}
}

// TestRedisKeyAndTTL: a ceremony is one key under the prefix, living exactly its timeout whatever
// the two clocks say, and a consume of an expired one leaves no key behind (no HSETNX on a missing
// key, which would recreate it without a TTL).
func TestRedisKeyAndTTL(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	r := ceremony.NewRedis(client, "")
	ctx := t.Context()
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // long ago on Redis's clock: only the difference counts
	c := store.Ceremony{ID: uuid.NewString(), Kind: "k", CreatedAt: created, ExpiresAt: created.Add(90 * time.Second)}
	if err := r.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	key := ceremony.DefaultRedisPrefix + c.ID
	if got := mr.TTL(key); got != 90*time.Second {
		t.Fatalf("TTL of %s = %v; want 90s", key, got)
	}
	mr.FastForward(91 * time.Second)
	if err := r.Consume(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Consume after expiry = %v; want store.ErrNotFound", err)
	}
	if mr.Exists(key) {
		t.Fatal("consuming an expired ceremony recreated its key")
	}
	if err := r.Put(ctx, store.Ceremony{ID: uuid.NewString(), CreatedAt: created, ExpiresAt: created}); err == nil {
		t.Fatal("Put of a ceremony with no lifetime succeeded")
	}
}

// TestRedisDownIsUnavailable: with Redis unreachable every call is fault.ErrUnavailable (503),
// never store.ErrNotFound (which a caller could take for "used") and never a success.
func TestRedisDownIsUnavailable(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer client.Close()
	r := ceremony.NewRedis(client, "")
	now := time.Now()
	c := store.Ceremony{ID: uuid.NewString(), Kind: "k", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := r.Put(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, fault.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s on a stopped Redis = %v; want fault.ErrUnavailable", op, err)
		}
	}
	check("Consume", r.Consume(ctx, c.ID))
	_, err := r.Get(ctx, c.ID)
	check("Get", err)
	check("Put", r.Put(ctx, store.Ceremony{ID: uuid.NewString(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
}

// TestMemoryBound: a full Memory refuses new ceremonies with 503 and Retry-After, keeping the ones
// in progress (consumed ones count until they expire), and takes new ones once the old expire.
func TestMemoryBound(t *testing.T) {
	clk := newClock()
	m := ceremony.NewMemory(clk.now, 3)
	ctx := t.Context()
	newC := func() store.Ceremony {
		now := clk.now()
		return store.Ceremony{ID: uuid.NewString(), Kind: "k", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	}
	var held []store.Ceremony
	for range 3 {
		c := newC()
		if err := m.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		clk.add(time.Second)
	}
	if err := m.Consume(ctx, held[0].ID); err != nil {
		t.Fatal(err)
	}
	err := m.Put(ctx, newC())
	var ra *fault.RetryAfterError
	if !errors.Is(err, fault.ErrUnavailable) || !errors.As(err, &ra) || ra.After <= 0 {
		t.Fatalf("Put into a full Memory = %v; want fault.ErrUnavailable with Retry-After", err)
	}
	for _, c := range held[1:] {
		if err := m.Consume(ctx, c.ID); err != nil {
			t.Fatalf("a ceremony in progress was dropped for the refused one: %v", err)
		}
	}
	clk.add(57*time.Second + 500*time.Millisecond) // held[0] expired (60.5 s after its creation), the others not yet
	if err := m.Put(ctx, newC()); err != nil {
		t.Fatalf("Put after the oldest expired = %v", err)
	}
	if _, err := m.Get(ctx, held[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired ceremony is still held: %v", err)
	}
	if err := m.Put(ctx, newC()); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("Put beyond the bound again = %v; want fault.ErrUnavailable", err)
	}
}
