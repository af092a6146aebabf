// Package ceremonytest is the contract every ceremony store (webauthn.Ceremonies) must meet,
// run on every implementation (Implementations): a ceremony reads back as put, is consumed exactly once
// even by concurrent callers, and is neither readable as live nor consumable after it expires.
package ceremonytest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// Cache is the interface under test (webauthn.Ceremonies).
type Cache interface {
	Put(ctx context.Context, c store.Ceremony) error
	Get(ctx context.Context, id string) (store.Ceremony, error)
	Consume(ctx context.Context, id string) error
}

// Backend is one store under test and its clock.
type Backend struct {
	Cache Cache
	// Now is the clock ceremonies are created on (and the store judges expiry by, where it does).
	Now func() time.Time
	// Advance moves that clock (and the server's, for miniredis) forward; nil: the suite sleeps.
	Advance func(d time.Duration)
	// TTL is the lifetime of the ceremonies the expiry case puts (default one minute; a second
	// or so for a real Redis, which expires keys on its own clock).
	TTL time.Duration
}

// Concurrency is the number of goroutines racing to consume one ceremony.
const Concurrency = 64

// Run runs the contract. newBackend returns a store whose contents no other test touches.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Run("RoundTrip", func(t *testing.T) {
		b := newBackend(t)
		c := put(t, b, time.Minute)
		got := get(t, b, c.ID)
		if got.ConsumedAt != nil {
			t.Fatalf("a fresh ceremony reads as consumed at %v", got.ConsumedAt)
		}
		same(t, got, c)
	})

	t.Run("ConsumeOnce", func(t *testing.T) {
		b, ctx := newBackend(t), t.Context()
		c := put(t, b, time.Minute)
		if err := b.Cache.Consume(ctx, c.ID); err != nil {
			t.Fatalf("first Consume = %v", err)
		}
		for range 2 {
			if err := b.Cache.Consume(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Consume again = %v; want store.ErrNotFound", err)
			}
		}
		// A used ceremony still reads back, marked used, so a replay is refused as used.
		got := get(t, b, c.ID)
		if got.ConsumedAt == nil {
			t.Fatal("a consumed ceremony reads as unused")
		}
		same(t, got, c)
	})

	t.Run("Unknown", func(t *testing.T) {
		b, ctx := newBackend(t), t.Context()
		id := uuid.NewString()
		if _, err := b.Cache.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v; want store.ErrNotFound", err)
		}
		if err := b.Cache.Consume(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Consume(unknown) = %v; want store.ErrNotFound", err)
		}
		// Consuming an unknown id must not make it exist.
		if _, err := b.Cache.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after Consume(unknown) = %v; want store.ErrNotFound", err)
		}
	})

	t.Run("Independent", func(t *testing.T) {
		b, ctx := newBackend(t), t.Context()
		x, y := put(t, b, time.Minute), put(t, b, time.Minute)
		if err := b.Cache.Consume(ctx, x.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(t, b, y.ID); got.ConsumedAt != nil {
			t.Fatal("consuming one ceremony consumed another")
		}
		if err := b.Cache.Consume(ctx, y.ID); err != nil {
			t.Fatalf("Consume(other) = %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		b, ctx := newBackend(t), t.Context()
		life := b.TTL
		if life == 0 {
			life = time.Minute
		}
		c := put(t, b, life)
		unused := put(t, b, life)
		if err := b.Cache.Consume(ctx, c.ID); err != nil {
			t.Fatalf("Consume before expiry = %v", err)
		}
		advance(b, life+life/2)
		for _, id := range []string{c.ID, unused.ID} {
			if err := b.Cache.Consume(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Consume after expiry = %v; want store.ErrNotFound", err)
			}
			// Gone, or still there but visibly expired (the caller refuses it by ExpiresAt).
			got, err := b.Cache.Get(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				t.Fatalf("Get after expiry = %v", err)
			case b.Now().Before(got.ExpiresAt):
				t.Fatalf("Get after expiry: live until %v, now %v", got.ExpiresAt, b.Now())
			}
		}
	})

	t.Run("ConcurrentConsume", func(t *testing.T) {
		b, ctx := newBackend(t), t.Context()
		c := put(t, b, time.Minute)
		var (
			wg            sync.WaitGroup
			mu            sync.Mutex
			won, lost     int
			others        []error
			start         = make(chan struct{})
			consumeResult = func(err error) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrNotFound):
					lost++
				default:
					others = append(others, err)
				}
			}
		)
		for range Concurrency {
			wg.Go(func() {
				<-start
				consumeResult(b.Cache.Consume(ctx, c.ID))
			})
		}
		close(start)
		wg.Wait()
		if won != 1 || lost != Concurrency-1 || len(others) > 0 {
			t.Fatalf("%d consumers: %d won, %d refused, other errors %v; want exactly one winner", Concurrency, won, lost, others)
		}
	})
}

// put stores a new ceremony living life from now on b's clock.
func put(t *testing.T, b Backend, life time.Duration) store.Ceremony {
	t.Helper()
	now := b.Now().UTC().Truncate(time.Millisecond)
	c := store.Ceremony{ID: uuid.NewString(), Kind: "webauthn_approval", UserID: uuid.NewString(),
		OperationID: uuid.NewString(), Data: []byte(`{"session":{"challenge":"x"},"kek_id":"01020304"}`),
		ExpiresAt: now.Add(life), CreatedAt: now}
	if err := b.Cache.Put(t.Context(), c); err != nil {
		t.Fatalf("Put = %v", err)
	}
	return c
}

func get(t *testing.T, b Backend, id string) store.Ceremony {
	t.Helper()
	c, err := b.Cache.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	return c
}

// same fails unless got carries what want was put with.
func same(t *testing.T, got, want store.Ceremony) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || got.UserID != want.UserID || got.OperationID != want.OperationID ||
		!bytes.Equal(got.Data, want.Data) || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("read back %+v\nput        %+v", got, want)
	}
}

func advance(b Backend, d time.Duration) {
	if b.Advance != nil {
		b.Advance(d)
		return
	}
	time.Sleep(d)
}

// Implementation is one ceremony store and how to get fresh instances of it.
type Implementation struct {
	Name string
	// Open sets the implementation up for a test (a database, a Redis client; it skips the test
	// when the service is not configured, or fails it under SIGNET_TEST_REQUIRE_SERVICES=1) and
	// returns a factory of backends that share that setup but not their contents.
	Open func(t *testing.T) func(t *testing.T) Backend
}

// Implementations are every ceremony store: Memory, DB on SQLite and on PostgreSQL
// (SIGNET_TEST_POSTGRES_URL), Redis on miniredis and on a real server (SIGNET_TEST_REDIS_URL).
func Implementations() []Implementation {
	db := func(open func(testing.TB) *sqlstore.Store) func(t *testing.T) func(t *testing.T) Backend {
		return func(t *testing.T) func(t *testing.T) Backend {
			rows := open(t) // ceremony ids are random: one database serves every backend
			return func(t *testing.T) Backend {
				clk := newClock()
				return Backend{Cache: ceremony.NewDB(rows, clk.now), Now: clk.now, Advance: clk.add}
			}
		}
	}
	return []Implementation{
		{"memory", func(*testing.T) func(t *testing.T) Backend {
			return func(*testing.T) Backend {
				clk := newClock()
				return Backend{Cache: ceremony.NewMemory(clk.now, 0), Now: clk.now, Advance: clk.add}
			}
		}},
		{"sqlite", db(func(t testing.TB) *sqlstore.Store { return sqltest.OpenSQLite(t) })},
		{"postgres", db(func(t testing.TB) *sqlstore.Store { return sqltest.OpenPostgres(t) })},
		{"miniredis", func(t *testing.T) func(t *testing.T) Backend {
			mr := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			t.Cleanup(func() { client.Close() })
			return func(*testing.T) Backend {
				clk := newClock()
				return Backend{Cache: ceremony.NewRedis(client, "t:"+uuid.NewString()+":"), Now: clk.now,
					Advance: func(d time.Duration) { clk.add(d); mr.FastForward(d) }}
			}
		}},
		{"redis", func(t *testing.T) func(t *testing.T) Backend {
			client := RealRedis(t)
			// Real time: Redis expires keys on its own clock, so the expiry case sleeps about 1.5 s.
			return func(t *testing.T) Backend {
				return Backend{Cache: ceremony.NewRedis(client, TestPrefix(t, client)), Now: time.Now, TTL: time.Second}
			}
		}},
	}
}

// RealRedis connects to SIGNET_TEST_REDIS_URL, or skips (fails under SIGNET_TEST_REQUIRE_SERVICES=1).
func RealRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	u := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	client, err := redisreplay.NewClient(u)
	if err != nil {
		t.Fatalf("%s: %v", replaytest.EnvRedisURL, err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		replaytest.ServiceUnreachable(t, replaytest.EnvRedisURL, err)
	}
	return client
}

// TestPrefix returns a random key prefix and deletes whatever is left under it after the test.
func TestPrefix(t testing.TB, client redis.UniversalClient) string {
	prefix := "signet-test:" + uuid.NewString() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return prefix
}

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
