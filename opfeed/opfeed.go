// Package opfeed carries "this operation changed" notices between Signet replicas, so a
// long-poll or event stream waiting on one replica wakes when another approves, rejects,
// cancels or expires the operation.
//
// The transport is Redis pub/sub (PUBLISH / SUBSCRIBE, https://redis.io/docs/latest/develop/pubsub/).
// Production already runs Redis for the replay store and rate limits, so the feed adds no new
// component, and pub/sub delivers within a round trip without any per-waiter reads.
// PostgreSQL LISTEN/NOTIFY was the alternative: it would hold one dedicated database
// connection per replica outside the pool and put the notices on the store that carries
// the approvals; Redis keeps that load off it.
//
// Pub/sub delivers at most once: a replica whose subscription drops misses what was published
// meanwhile. The feed therefore reports every subscription, the first included (resync), and
// the server then re-reads every waiting operation once; a slow safety poll in the server covers the rest.
// A notice carries only the operation id, never its state: the waiter reads the state from
// the store, so a forged or replayed notice can at most cause one read.
package opfeed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis channel the replicas share.
const DefaultChannel = "signet:operation-changed"

// Redis is a feed on one Redis pub/sub channel.
type Redis struct {
	client  redis.UniversalClient
	channel string
	self    string // this replica's tag: its own notices are not delivered back to it
}

// New returns a feed on channel ("" = DefaultChannel). Replicas sharing a Redis and a channel
// wake each other.
func New(client redis.UniversalClient, channel string) *Redis {
	if channel == "" {
		channel = DefaultChannel
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Redis{client: client, channel: channel, self: hex.EncodeToString(b[:])}
}

// Publish tells the other replicas that operation id changed.
func (r *Redis) Publish(ctx context.Context, id string) error {
	return r.client.Publish(ctx, r.channel, r.self+" "+id).Err()
}

// Run subscribes and calls changed with each operation id another replica publishes, until
// ctx ends. resync is called each time the subscription is established, the first time
// included: notices published before it (or while it was lost) never reach this replica. While Redis is
// unreachable Run keeps retrying (go-redis reconnects and re-subscribes); it returns only
// when ctx ends.
func (r *Redis) Run(ctx context.Context, changed func(id string), resync func()) error {
	ps := r.client.Subscribe(ctx, r.channel)
	defer ps.Close()
	// Receive blocks in a read that does not watch ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// go-redis drops the broken connection; the next Receive dials and subscribes again.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.channel {
				// Also the first time: a waiter may have started before the subscription
				// was in place, and nothing published before it reaches this replica.
				resync()
			}
		case *redis.Message:
			tag, id, ok := strings.Cut(m.Payload, " ")
			if ok && tag != r.self && id != "" {
				changed(id)
			}
		}
	}
}
