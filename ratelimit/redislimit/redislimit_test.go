package redislimit

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// TestSharedAcrossReplicas: two limiters on two clients of one real Redis (two replicas)
// share one budget per key.
func TestSharedAcrossReplicas(t *testing.T) {
	u := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	a, b := client(t, u), client(t, u)
	prefix := "signet-test:" + replaytest.JTI(t) + ":"
	one, two := New(a, prefix, time.Second), New(b, prefix, time.Second)
	l := ratelimit.Limit{Rate: 4, Period: time.Hour, Burst: 4}
	ctx := context.Background()
	var allowed int
	for i := range 8 {
		lim := one
		if i%2 == 1 {
			lim = two
		}
		r, err := lim.Allow(ctx, "op:x", l)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		} else if r.RetryAfter <= 0 {
			t.Errorf("refused with RetryAfter %v; want > 0", r.RetryAfter)
		}
	}
	if allowed != 4 {
		t.Errorf("%d of 8 allowed across two replicas; want the shared burst of 4", allowed)
	}
	if r, _ := two.Allow(ctx, "op:y", l); !r.Allowed {
		t.Error("another key refused")
	}
}

func TestDownIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	_, err = New(c, "", 200*time.Millisecond).Allow(context.Background(), "k", ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 1})
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("Allow with Redis down = %v; want ErrUnavailable", err)
	}
}

func TestMiniredisBurst(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer c.Close()
	lim := New(c, "p:", time.Second)
	l := ratelimit.Limit{Rate: 2, Period: time.Minute, Burst: 2}
	got := []bool{}
	for range 3 {
		r, err := lim.Allow(context.Background(), "k", l)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Allowed)
	}
	if !got[0] || !got[1] || got[2] {
		t.Errorf("decisions %v; want [true true false]", got)
	}
}

func client(t *testing.T, u string) redis.UniversalClient {
	c, err := redisreplay.NewClient(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		replaytest.ServiceUnreachable(t, replaytest.EnvRedisURL, err)
	}
	return c
}
