package opfeed_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/opfeed"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// realRedis returns a client of SIGNET_TEST_REDIS_URL named name (CLIENT SETNAME), or skips
// (fails under SIGNET_TEST_REQUIRE_SERVICES=1).
func realRedis(t testing.TB, name string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(replaytest.ServiceURL(t, replaytest.EnvRedisURL))
	if err != nil {
		t.Fatal(err)
	}
	o.ClientName = name
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		replaytest.ServiceUnreachable(t, replaytest.EnvRedisURL, err)
	}
	return c
}

// replica is one feed running in the background, with what it received.
type replica struct {
	feed    *opfeed.Redis
	changed chan string
	resyncs chan struct{}
}

// start runs a feed on channel and waits until the channel has subscribers subscribers.
func start(t testing.TB, c *redis.Client, channel string, subscribers int64) *replica {
	t.Helper()
	r := &replica{feed: opfeed.New(c, channel), changed: make(chan string, 1024), resyncs: make(chan struct{}, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.feed.Run(ctx, func(id string) { r.changed <- id }, func() { r.resyncs <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitSubscribed(t, c, channel, subscribers)
	return r
}

// waitSubscribed waits until channel has at least n subscribers (PUBSUB NUMSUB): a notice
// published before a subscription exists is lost by design.
func waitSubscribed(t testing.TB, c *redis.Client, channel string, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, err := c.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m[channel] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s has %d subscribers, want %d", channel, m[channel], n)
		}
		time.Sleep(5 * time.Millisecond) // polling Redis's own state, not waiting on a goroutine of ours
	}
}

func receive(t testing.TB, r *replica) string {
	t.Helper()
	select {
	case id := <-r.changed:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
		return ""
	}
}

// TestFeedCarriesChangesToOtherReplicas: what one replica publishes reaches the others, in
// order, and never comes back to itself.
func TestFeedCarriesChangesToOtherReplicas(t *testing.T) {
	channel := "signet-test:" + uuid.NewString()
	ca, cb := realRedis(t, "feed-a"), realRedis(t, "feed-b")
	a := start(t, ca, channel, 1)
	b := start(t, cb, channel, 2)
	ctx := context.Background()
	for i := range 3 {
		if err := a.feed.Publish(ctx, fmt.Sprintf("op-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if got := receive(t, b); got != fmt.Sprintf("op-%d", i) {
			t.Fatalf("B received %q, want op-%d", got, i)
		}
	}
	// B's notice reaches A; had A received its own three, they would come first.
	if err := b.feed.Publish(ctx, "op-from-b"); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, a); got != "op-from-b" {
		t.Fatalf("A received %q: its own notice came back to it", got)
	}
	// A message on the channel that is not a notice (another program, a malformed payload)
	// wakes nobody.
	for _, junk := range []string{"", "no-space", "tag "} {
		if err := ca.Publish(ctx, channel, junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.feed.Publish(ctx, "op-after-junk"); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, b); got != "op-after-junk" {
		t.Fatalf("B received %q from a malformed message", got)
	}
}

// TestFeedResyncsAfterALostSubscription: the feed reports a resync when it first subscribes,
// and when Redis drops its subscription it subscribes again by itself and reports another
// (notices may have been lost meanwhile); notices flow again.
func TestFeedResyncsAfterALostSubscription(t *testing.T) {
	channel := "signet-test:" + uuid.NewString()
	name := "feed-" + strings.ReplaceAll(uuid.NewString(), "-", "")
	ca, cb := realRedis(t, "feed-publisher"), realRedis(t, name)
	a := start(t, ca, channel, 1)
	b := start(t, cb, channel, 2)
	// The first subscription resyncs too: a waiter may have started before it.
	select {
	case <-b.resyncs:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync on the first subscription")
	}
	// Kill B's subscriber connection, as a Redis restart or a network cut would.
	if n, err := ca.ClientKillByFilter(context.Background(), "TYPE", "pubsub", "SKIPME", "yes").Result(); err != nil || n == 0 {
		list, _ := ca.ClientList(context.Background()).Result()
		t.Fatalf("CLIENT KILL: %d killed, %v\n%s", n, err, list)
	}
	select {
	case <-b.resyncs:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after the subscription was lost")
	}
	waitSubscribed(t, ca, channel, 2)
	if err := a.feed.Publish(context.Background(), "op-after"); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, b); got != "op-after" {
		t.Fatalf("after the resync B received %q", got)
	}
}

// BenchmarkCrossReplicaNotice: from Publish on one replica to the notice delivered on
// another, over the real Redis (one round trip plus the push).
func BenchmarkCrossReplicaNotice(b *testing.B) {
	channel := "signet-bench:" + uuid.NewString()
	ca, cb := realRedis(b, "bench-a"), realRedis(b, "bench-b")
	a := start(b, ca, channel, 1)
	r := start(b, cb, channel, 2)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := a.feed.Publish(ctx, "op"); err != nil {
			b.Fatal(err)
		}
		<-r.changed
	}
}
