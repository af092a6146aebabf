// Package replaytest is the conformance suite every replay.Store must pass: single use,
// atomic consume under concurrency, TTL expiry, duplicate detection and failing closed.
// Implementations run it from their own tests: replaytest.Run(t, newStore, opts).
package replaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay"
)

// Options adapts the suite to a backend.
type Options struct {
	// Advance moves the clock of every store returned by newStore forward by d (an injected
	// clock, miniredis FastForward, ...). When nil the TTL test sleeps in real time with TTLs
	// of about a second.
	Advance func(t *testing.T, d time.Duration)
	// Concurrency is the number of goroutines racing to consume one JTI (default 64).
	Concurrency int
}

// Run runs the conformance suite. newStore returns a store whose contents no other test
// touches (a fresh instance, or a random key prefix on a shared server).
func Run(t *testing.T, newStore func(t *testing.T) replay.Store, opts Options) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}

	t.Run("RecordThenConsumeOnce", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		id := JTI(t)
		mustRecord(t, s, id, time.Minute)
		if err := s.Consume(ctx, id); err != nil {
			t.Fatalf("first Consume = %v; want nil", err)
		}
		if err := s.Consume(ctx, id); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("second Consume = %v; want ErrReplay", err)
		}
		if err := s.Consume(ctx, id); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("third Consume = %v; want ErrReplay", err)
		}
	})

	t.Run("UnknownIsReplay", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.Consume(ctx, JTI(t)); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("Consume(unknown) = %v; want ErrReplay", err)
		}
		if err := s.Consume(ctx, ""); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("Consume(\"\") = %v; want ErrReplay", err)
		}
	})

	t.Run("DuplicateRecordIsExists", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		id := JTI(t)
		mustRecord(t, s, id, time.Minute)
		if err := s.Record(ctx, id, time.Minute); !errors.Is(err, replay.ErrExists) {
			t.Fatalf("second Record = %v; want ErrExists", err)
		}
		// The duplicate attempt must not have re-armed or extended anything observable: one
		// consume still succeeds, exactly once.
		if err := s.Consume(ctx, id); err != nil {
			t.Fatalf("Consume = %v", err)
		}
		if err := s.Consume(ctx, id); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("second Consume = %v; want ErrReplay", err)
		}
	})

	t.Run("InvalidRecord", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for _, c := range []struct {
			name string
			jti  string
			ttl  time.Duration
		}{
			{"empty jti", "", time.Minute},
			{"zero ttl", JTI(t), 0},
			{"negative ttl", JTI(t), -time.Second},
		} {
			if err := s.Record(ctx, c.jti, c.ttl); !errors.Is(err, replay.ErrInvalid) {
				t.Errorf("%s: Record = %v; want ErrInvalid", c.name, err)
			}
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		a, b := JTI(t), JTI(t)
		mustRecord(t, s, a, time.Minute)
		mustRecord(t, s, b, time.Minute)
		if err := s.Consume(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Consume(ctx, b); err != nil {
			t.Fatalf("consuming a affected b: %v", err)
		}
	})

	t.Run("UnusualJTIBytes", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for _, suffix := range []string{":*?[]{}", " spaced ", "ünïcødé-🚀", "\x00nul", string(make([]byte, 256))} {
			id := JTI(t) + suffix
			mustRecord(t, s, id, time.Minute)
			if err := s.Consume(ctx, JTI(t)+suffix); !errors.Is(err, replay.ErrReplay) {
				t.Fatalf("Consume(other) = %v; want ErrReplay", err)
			}
			if err := s.Consume(ctx, id); err != nil {
				t.Fatalf("Consume(%q) = %v", id, err)
			}
		}
	})

	t.Run("ConcurrentConsumeHasOneWinner", func(t *testing.T) {
		s := newStore(t)
		for round := 0; round < 5; round++ {
			id := JTI(t)
			mustRecord(t, s, id, time.Minute)
			var wins, replays atomic.Int32
			errs := make(chan error, opts.Concurrency)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < opts.Concurrency; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					switch err := s.Consume(t.Context(), id); {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, replay.ErrReplay):
						replays.Add(1)
					default:
						errs <- err
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Consume = %v; want nil or ErrReplay", err)
			}
			if wins.Load() != 1 || int(replays.Load()) != opts.Concurrency-1 {
				t.Fatalf("round %d: %d winners, %d replays; want exactly 1 winner of %d", round, wins.Load(), replays.Load(), opts.Concurrency)
			}
		}
	})

	t.Run("ConcurrentRecordHasOneWinner", func(t *testing.T) {
		s := newStore(t)
		id := JTI(t)
		var ok, exists atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := s.Record(t.Context(), id, time.Minute); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, replay.ErrExists):
					exists.Add(1)
				default:
					t.Errorf("Record = %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || exists.Load() != 15 {
			t.Fatalf("%d recorded, %d ErrExists; want 1 and 15", ok.Load(), exists.Load())
		}
	})

	t.Run("TTLExpiry", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		ttl := time.Minute
		advance := opts.Advance
		if advance == nil {
			ttl = 1200 * time.Millisecond
			advance = func(_ *testing.T, d time.Duration) { time.Sleep(d) }
		}
		early, late, again := JTI(t), JTI(t), JTI(t)
		mustRecord(t, s, early, ttl)
		mustRecord(t, s, late, ttl)
		mustRecord(t, s, again, ttl)
		advance(t, ttl/4)
		if err := s.Consume(ctx, early); err != nil {
			t.Fatalf("Consume before expiry = %v", err)
		}
		advance(t, ttl) // now 1.25 × ttl after Record
		if err := s.Consume(ctx, late); !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("Consume after expiry = %v; want ErrReplay", err)
		}
		// An expired JTI is gone: it can be recorded again (never happens with 128-bit JTIs,
		// but a store must not leak expired keys forever).
		if err := s.Record(ctx, again, ttl); err != nil {
			t.Fatalf("Record after expiry = %v; want nil", err)
		}
		if err := s.Consume(ctx, again); err != nil {
			t.Fatalf("Consume re-recorded = %v", err)
		}
	})

	t.Run("CancelledContextFailsClosed", func(t *testing.T) {
		s := newStore(t)
		id := JTI(t)
		mustRecord(t, s, id, time.Minute)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Consume(ctx, id); err == nil || !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Consume(cancelled) = %v; want ErrUnavailable", err)
		}
		if err := s.Record(ctx, JTI(t), time.Minute); err == nil || !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Record(cancelled) = %v; want ErrUnavailable", err)
		}
		if err := s.Ping(ctx); err == nil {
			t.Fatal("Ping(cancelled) = nil; want an error")
		}
		ctx, cancel = context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		if err := s.Consume(ctx, id); err == nil || !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Consume(past deadline) = %v; want ErrUnavailable", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping = %v", err)
		}
	})
}

// JTI returns a fresh random 128-bit JTI, as the minting side makes them.
func JTI(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func mustRecord(t *testing.T, s replay.Store, jti string, ttl time.Duration) {
	t.Helper()
	if err := s.Record(t.Context(), jti, ttl); err != nil {
		t.Fatalf("Record(%q) = %v", jti, err)
	}
}

// Environment variables shared by the suites of every backend (docs: STYLE.md, Tests).
const (
	EnvRedisURL        = "SIGNET_TEST_REDIS_URL"
	EnvRequireServices = "SIGNET_TEST_REQUIRE_SERVICES"
)

// ServiceURL returns the value of the environment variable env (e.g. EnvRedisURL). When it is
// unset the test is skipped, or fails when SIGNET_TEST_REQUIRE_SERVICES=1 (CI), so that a
// missing service can never turn a red build green.
func ServiceURL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv(EnvRequireServices) == "1" {
			t.Fatalf("%s is not set and %s=1", env, EnvRequireServices)
		}
		t.Skipf("%s not set", env)
	}
	return u
}

// ServiceUnreachable skips the test because the service named by env did not answer, or
// fails it when SIGNET_TEST_REQUIRE_SERVICES=1.
func ServiceUnreachable(t testing.TB, env string, err error) {
	t.Helper()
	if os.Getenv(EnvRequireServices) == "1" {
		t.Fatalf("service at %s unreachable and %s=1: %v", env, EnvRequireServices, err)
	}
	t.Skipf("service at %s unreachable: %v", env, err)
}
