package replay_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// fakeClock is an injected clock shared by every store of one test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryConformance(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	replaytest.Run(t,
		func(t *testing.T) replay.Store { return replay.NewMemory(clock.Now) },
		replaytest.Options{Advance: func(_ *testing.T, d time.Duration) { clock.Advance(d) }})
}

func TestMemoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := replay.NewMemory(clock.Now, replay.WithMaxEntries(3))
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		if err := m.Record(ctx, id, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Record(ctx, "d", time.Minute); !errors.Is(err, replay.ErrUnavailable) {
		t.Fatalf("Record beyond the bound = %v; want ErrUnavailable", err)
	}
	// Consuming frees a slot at once.
	if err := m.Consume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := m.Record(ctx, "d", 2*time.Minute); err != nil {
		t.Fatalf("Record after consume = %v", err)
	}
	// Expiry frees slots lazily, without any goroutine.
	clock.Advance(time.Minute)
	if n := m.Len(); n != 1 {
		t.Fatalf("Len after expiry = %d; want 1 (only d)", n)
	}
	for _, id := range []string{"e", "f"} {
		if err := m.Record(ctx, id, time.Minute); err != nil {
			t.Fatalf("Record(%s) after purge = %v", id, err)
		}
	}
	if err := m.Consume(ctx, "d"); err != nil {
		t.Fatalf("Consume(d) = %v", err)
	}
}

func TestMemoryExpiryIsExclusive(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := replay.NewMemory(clock.Now)
	ctx := context.Background()
	if err := m.Record(ctx, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second - time.Nanosecond)
	if err := m.Record(ctx, "y", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Consume(ctx, "x"); err != nil {
		t.Fatalf("Consume 1ns before expiry = %v", err)
	}
	clock.Advance(time.Second)
	if err := m.Consume(ctx, "y"); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("Consume at expiry = %v; want ErrReplay", err)
	}
}

func BenchmarkMemoryRecordConsume(b *testing.B) {
	m := replay.NewMemory(nil)
	ctx := context.Background()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + time.Duration(i).String()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%len(ids)]
		if err := m.Record(ctx, id, time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := m.Consume(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
