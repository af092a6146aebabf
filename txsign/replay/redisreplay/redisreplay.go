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
}

var _ replay.Store = (*Store)(nil)

// New returns a Store on client, keeping its keys under prefix (DefaultPrefix when empty).
// The caller keeps ownership of client: Close does not close it.
func New(client redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{c: client, prefix: prefix}
}

// Open connects to the Redis named by rawURL (see NewClient) and returns a Store that owns the
// client: Close closes it. No connection is made before the first command; call Ping to
// check the address at start-up.
func Open(rawURL, prefix string) (*Store, error) {
	c, err := NewClient(rawURL)
	if err != nil {
		return nil, err
	}
	s := New(c, prefix)
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
	switch err := s.c.GetDel(ctx, s.prefix+jti).Err(); {
	case errors.Is(err, redis.Nil):
		return replay.ErrReplay
	case err != nil:
		return unavailable(err)
	}
	return nil
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
