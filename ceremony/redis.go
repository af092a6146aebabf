package ceremony

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// DefaultRedisPrefix is the key prefix when NewRedis is given "".
const DefaultRedisPrefix = "signet:ceremony:"

// Each ceremony is one Redis hash under prefix+id, with the key's own TTL: field "c" holds the
// ceremony (JSON), field "u" the time it was consumed, absent until then.
const (
	fieldCeremony = "c"
	fieldUsed     = "u"
)

// consumeScript sets the used field only when the ceremony still exists (not expired: Redis
// drops the key at its TTL) and the field is not set yet. A Lua script runs atomically, so of any
// number of concurrent consumers, on any number of replicas, exactly one gets 1. HSETNX alone would
// recreate an expired key without a TTL.
var consumeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
	return 1
end
return 0`)

// Redis keeps ceremonies in Redis, shared by every replica (single server, Sentinel or Cluster
// through go-redis's UniversalClient; each ceremony is one key). Safe for concurrent use.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a Redis on client under prefix (DefaultRedisPrefix when ""). The caller keeps
// ownership of client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{c: client, prefix: prefix}
}

// Put stores c for c.ExpiresAt - c.CreatedAt (the caller's timeout, whatever Redis's clock says)
// in one MULTI: the hash never exists without its TTL.
func (r *Redis) Put(ctx context.Context, c store.Ceremony) error {
	life := c.ExpiresAt.Sub(c.CreatedAt)
	if c.ID == "" || life <= 0 {
		return fmt.Errorf("ceremony: put %q: no id or a lifetime of %s", c.ID, life)
	}
	c.ConsumedAt = nil
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := r.prefix + c.ID
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, fieldCeremony, raw)
		p.PExpire(ctx, key, max(life, time.Millisecond))
		return nil
	})
	if err != nil {
		return unavailable("put", err)
	}
	return nil
}

// Get returns ceremony id with ConsumedAt set once it was consumed; store.ErrNotFound when Redis
// does not hold it (never put, or expired).
func (r *Redis) Get(ctx context.Context, id string) (store.Ceremony, error) {
	vals, err := r.c.HMGet(ctx, r.prefix+id, fieldCeremony, fieldUsed).Result()
	if err != nil {
		return store.Ceremony{}, unavailable("get", err)
	}
	raw, ok := vals[0].(string)
	if !ok {
		return store.Ceremony{}, fmt.Errorf("ceremony: get %q: %w", id, store.ErrNotFound)
	}
	var c store.Ceremony
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return store.Ceremony{}, fmt.Errorf("ceremony: get %q: %w", id, err)
	}
	if used, ok := vals[1].(string); ok {
		t, err := time.Parse(time.RFC3339Nano, used)
		if err != nil {
			return store.Ceremony{}, fmt.Errorf("ceremony: get %q: consumed at %q: %w", id, used, err)
		}
		c.ConsumedAt = &t
	}
	return c, nil
}

// Consume marks ceremony id used (consumeScript): store.ErrNotFound when it is unknown, expired or
// used already. A transport error after the script reached Redis may leave it consumed without
// anyone having used it: that fails closed (503, the customer starts again).
func (r *Redis) Consume(ctx context.Context, id string) error {
	won, err := consumeScript.Run(ctx, r.c, []string{r.prefix + id}, fieldUsed,
		time.Now().UTC().Format(time.RFC3339Nano)).Int()
	switch {
	case err != nil:
		return unavailable("consume", err)
	case won != 1:
		return fmt.Errorf("ceremony: consume %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fault.Wrap(fault.ErrUnavailable, fmt.Errorf("ceremony: %s: %w", op, err), "the ceremony store is unavailable; retry shortly")
}
