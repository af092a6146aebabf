// Package redisreplay is the replay.Store on Redis (single server, Sentinel or Cluster through
// go-redis's UniversalClient): Record is SET NX PX, Consume is one GETDEL, so a JTI is
// consumed atomically in a single round trip by any number of Signet replicas and gateways.
package redisreplay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/txsign/replay"
)

// DefaultPrefix is the key prefix when New is given "".
const DefaultPrefix = "signet:jti:"

// Store is a replay.Store on Redis. Safe for concurrent use.
type Store struct {
	c      redis.UniversalClient
	prefix string
	owned  bool
	wait   WaitAOF
}

var _ replay.Store = (*Store)(nil)

// WaitAOF asks Consume to confirm that its GETDEL is durable before it answers: WAITAOF
// numlocal numreplicas timeout (Redis ≥ 7.2) in the same round trip. Without it, a Redis crash
// under appendfsync everysec, or an asynchronous failover, can lose a GETDEL that Signet
// already answered, and the spent token becomes consumable again.
type WaitAOF struct {
	Local    int           // 0 or 1: the GETDEL is fsynced to the primary's AOF
	Replicas int           // that many replicas fsynced it to their AOF
	Timeout  time.Duration // how long Consume waits for the fsyncs; then it fails closed
}

// Enabled reports whether Consume waits at all.
func (w WaitAOF) Enabled() bool { return w.Local > 0 || w.Replicas > 0 }

// Option configures New and Open.
type Option func(*Store)

// WithWaitAOF makes Consume wait for w (see WaitAOF); call CheckWaitAOF at start-up.
func WithWaitAOF(w WaitAOF) Option { return func(s *Store) { s.wait = w } }

// New returns a Store on client, keeping its keys under prefix (DefaultPrefix when empty).
// The caller keeps ownership of client: Close does not close it.
func New(client redis.UniversalClient, prefix string, opts ...Option) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{c: client, prefix: prefix}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Open connects to the Redis named by rawURL (see NewClient) and returns a Store that owns the
// client: Close closes it. No connection is made before the first command; call Ping to
// check the address at start-up.
func Open(rawURL, prefix string, opts ...Option) (*Store, error) {
	c, err := NewClient(rawURL)
	if err != nil {
		return nil, err
	}
	s := New(c, prefix, opts...)
	s.owned = true
	return s, nil
}

// Close closes the client if the Store opened it (Open); it is a no-op after New.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.c.Close()
}

// Record implements replay.Store: SET prefix+jti 1 PX ttl NX. A nil reply means the key
// exists (ErrExists).
func (s *Store) Record(ctx context.Context, jti string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	if jti == "" || ttl <= 0 {
		return replay.ErrInvalid
	}
	ms := max(ttl.Milliseconds(), 1) // PX has millisecond resolution; never round to 0 (= error)
	cmd := redis.NewStatusCmd(ctx, "set", s.prefix+jti, "1", "px", ms, "nx")
	switch err := s.c.Process(ctx, cmd); {
	case errors.Is(err, redis.Nil):
		return replay.ErrExists
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// Consume implements replay.Store with one GETDEL (Redis ≥ 6.2): the read and the delete are
// one atomic command, so of concurrent consumers exactly one sees the value. A nil reply
// (never recorded, expired, or already consumed) is ErrReplay; any other failure is
// ErrUnavailable. A transport error after the command reached the server leaves the JTI
// consumed without anyone accepting it: that fails closed, as it must.
func (s *Store) Consume(ctx context.Context, jti string) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	if jti == "" {
		return replay.ErrReplay
	}
	if s.wait.Enabled() {
		return s.consumeDurably(ctx, s.prefix+jti)
	}
	switch err := s.c.GetDel(ctx, s.prefix+jti).Err(); {
	case errors.Is(err, redis.Nil):
		return replay.ErrReplay
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// ErrNotDurable: WAITAOF did not confirm the fsyncs asked for in time. The JTI is consumed but
// the consume may be lost in a crash or failover, so the token is refused (ErrUnavailable, 503);
// the user approves again.
var ErrNotDurable = errors.New("redisreplay: consume not confirmed durable")

// consumeDurably sends GETDEL and WAITAOF in one pipeline on the node that holds key: WAITAOF
// waits for this connection's preceding writes, so it must follow the GETDEL on the same
// connection (Redis Cluster routes a keyless command anywhere, hence MasterForKey).
func (s *Store) consumeDurably(ctx context.Context, key string) error {
	var p redis.Cmdable = s.c
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return unavailable(err)
		}
		p = node
	}
	var get *redis.StringCmd
	var wait *redis.IntSliceCmd
	_, _ = p.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		get = pipe.GetDel(ctx, key)
		// Pipeliner has no WaitAOF; the command as go-redis's own WaitAOF builds it.
		wait = redis.NewIntSliceCmd(ctx, "waitaof", s.wait.Local, s.wait.Replicas, s.wait.Timeout.Milliseconds())
		return pipe.Process(ctx, wait)
	})
	switch err := get.Err(); {
	case errors.Is(err, redis.Nil):
		return replay.ErrReplay // nothing was deleted: a replay however durable
	case err != nil:
		return unavailable(err)
	}
	acks, err := wait.Result()
	switch {
	case err != nil:
		return unavailable(fmt.Errorf("%w: WAITAOF: %w", ErrNotDurable, err))
	case len(acks) != 2 || acks[0] < int64(s.wait.Local) || acks[1] < int64(s.wait.Replicas):
		return unavailable(fmt.Errorf("%w: WAITAOF confirmed %v, asked %d local and %d replicas within %s",
			ErrNotDurable, acks, s.wait.Local, s.wait.Replicas, s.wait.Timeout))
	}
	return nil
}

// CheckWaitAOF verifies at start-up that every primary can confirm what WithWaitAOF asks: it
// supports WAITAOF (Redis ≥ 7.2), has appendonly on when Local > 0, and has Replicas replicas
// acknowledging within the timeout. Nil when WithWaitAOF was not given.
func (s *Store) CheckWaitAOF(ctx context.Context) error {
	if !s.wait.Enabled() {
		return nil
	}
	check := func(ctx context.Context, c *redis.Client) error {
		acks, err := c.WaitAOF(ctx, s.wait.Local, s.wait.Replicas, s.wait.Timeout).Result()
		if err != nil {
			msg := err.Error()
			switch {
			case strings.Contains(strings.ToLower(msg), "unknown command"):
				return fmt.Errorf("the Redis server (%s) does not support WAITAOF (it needs Redis 7.2 or later): %s", serverVersion(ctx, c), msg)
			case strings.Contains(msg, "appendonly"):
				return fmt.Errorf("the Redis server has no AOF to wait for (set appendonly yes, or ask for 0 local fsyncs): %s", msg)
			}
			return fmt.Errorf("WAITAOF: %w", err)
		}
		if len(acks) != 2 || acks[0] < int64(s.wait.Local) || acks[1] < int64(s.wait.Replicas) {
			return fmt.Errorf("WAITAOF confirmed %v (local fsync, replicas) within %s; asked for %d and %d: check appendonly and the replicas",
				acks, s.wait.Timeout, s.wait.Local, s.wait.Replicas)
		}
		return nil
	}
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, check)
	case *redis.Client:
		return check(ctx, c)
	}
	return errors.New("WAITAOF check: unsupported Redis client")
}

func serverVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "version unknown"
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "(version unknown)"
}

// Ping implements replay.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

func unavailable(err error) error { return fmt.Errorf("%w: %w", replay.ErrUnavailable, err) }

// NewClient builds a go-redis client from a URL:
//
//	redis://[user:password@]host:6379/0               one server
//	rediss://...                                        the same over TLS
//	redis://host1:6379,host2:6379,host3:6379            Redis Cluster (several seed addresses)
//	redis://host:6379?addr=host2:6379                   Redis Cluster, go-redis style
//	redis://s1:26379,s2:26379/0?master_name=mymaster    Sentinel (addresses are the sentinels)
//
// Query parameters are those of go-redis ParseURL, ParseClusterURL and ParseFailoverURL
// (dial_timeout, read_timeout, pool_size, ...); an unknown one is an error. Credentials in
// the URL are never part of a returned error.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	// Split a comma-separated host list off the authority before url.Parse, which accepts
	// only one host.
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || (scheme != "redis" && scheme != "rediss") {
		return nil, errors.New("redisreplay: Redis URL must start with redis:// or rediss://")
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostlist := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(hostlist, ",")
	for _, h := range hosts {
		if h == "" {
			return nil, errors.New("redisreplay: empty address in Redis URL")
		}
	}
	u, err := url.Parse(scheme + "://" + userinfo + hosts[0] + tail)
	if err != nil {
		// url.Parse errors quote the input, password included.
		return nil, errors.New("redisreplay: malformed Redis URL")
	}
	q := u.Query()
	if len(hosts) > 1 {
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		u.RawQuery = q.Encode()
	}
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, redactedErr(err, u)
		}
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, errors.New("redisreplay: Redis Cluster has only database 0")
		}
		u.Path = ""
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, redactedErr(err, u)
		}
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, redactedErr(err, u)
		}
		return redis.NewClient(o), nil
	}
}

func redactedErr(err error, u *url.URL) error {
	msg := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(p), "xxxxx")
	}
	return errors.New("redisreplay: " + msg)
}
