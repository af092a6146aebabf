package redisreplay

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

func TestConformanceMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	replaytest.Run(t,
		func(t *testing.T) replay.Store { return New(client, "t:"+replaytest.JTI(t)+":") },
		replaytest.Options{Advance: func(_ *testing.T, d time.Duration) { mr.FastForward(d) }})
}

// TestConformanceRedis runs the suite against a real Redis (SIGNET_TEST_REDIS_URL), each
// store under a random key prefix that is deleted afterwards.
func TestConformanceRedis(t *testing.T) {
	client := realRedis(t)
	replaytest.Run(t,
		func(t *testing.T) replay.Store { return New(client, testPrefix(t, client)) },
		replaytest.Options{}) // real time: the TTL test sleeps about 1.5 s
}

func TestRecordSetsPXTTLUnderPrefix(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	s := New(client, "")
	ctx := t.Context()
	for _, c := range []struct {
		ttl, want time.Duration
	}{
		{1500 * time.Millisecond, 1500 * time.Millisecond},
		{2 * time.Minute, 2 * time.Minute},
		{time.Microsecond, time.Millisecond}, // never 0, which Redis would refuse
	} {
		jti := replaytest.JTI(t)
		if err := s.Record(ctx, jti, c.ttl); err != nil {
			t.Fatal(err)
		}
		if !mr.Exists(DefaultPrefix + jti) {
			t.Fatalf("key %q not under the default prefix", DefaultPrefix+jti)
		}
		if got := mr.TTL(DefaultPrefix + jti); got != c.want {
			t.Errorf("TTL = %v; want %v", got, c.want)
		}
	}
}

func TestStoppedRedisFailsClosed(t *testing.T) {
	check := func(t *testing.T, s *Store, jti string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := s.Consume(ctx, jti); err == nil || !errors.Is(err, replay.ErrUnavailable) || errors.Is(err, replay.ErrReplay) {
			t.Fatalf("Consume on a dead Redis = %v; want ErrUnavailable", err)
		}
		if err := s.Record(ctx, replaytest.JTI(t), time.Minute); !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Record on a dead Redis = %v; want ErrUnavailable", err)
		}
		if err := s.Ping(ctx); !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Ping on a dead Redis = %v; want ErrUnavailable", err)
		}
	}
	fast := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	}

	t.Run("server stopped after Record", func(t *testing.T) {
		mr := miniredis.RunT(t)
		client := fast(mr.Addr())
		defer client.Close()
		s := New(client, "")
		jti := replaytest.JTI(t)
		if err := s.Record(t.Context(), jti, time.Minute); err != nil {
			t.Fatal(err)
		}
		mr.Close()
		check(t, s, jti)
	})
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		client := fast(addr)
		defer client.Close()
		check(t, New(client, ""), replaytest.JTI(t))
	})
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name, url string
		want      string // "" = must fail; else the concrete client type
	}{
		{name: "http scheme", url: "http://localhost:6379"},
		{name: "no scheme", url: "localhost:6379"},
		{name: "empty", url: ""},
		{name: "empty host in list", url: "redis://a:6379,,b:6379"},
		{name: "unknown parameter", url: "redis://localhost:6379/0?bogus=1"},
		{name: "bad database", url: "redis://localhost:6379/x"},
		{name: "cluster with database 1", url: "redis://a:6379,b:6379/1"},
		{name: "password not leaked", url: "redis://user:s3cretpw@localhost:6379/0?bogus=1"},

		{name: "single", url: "redis://127.0.0.1:6379/0", want: "*redis.Client"},
		{name: "single TLS with credentials", url: "rediss://user:pw@redis.example:6380/2", want: "*redis.Client"},
		{name: "single with options", url: "redis://localhost:6379/0?dial_timeout=1s&pool_size=5", want: "*redis.Client"},
		{name: "cluster comma list", url: "redis://a:6379,b:6379,c:6379", want: "*redis.ClusterClient"},
		{name: "cluster comma list with credentials", url: "redis://u:p@a:6379,b:6379/0", want: "*redis.ClusterClient"},
		{name: "cluster addr parameter", url: "redis://a:6379?addr=b:6379", want: "*redis.ClusterClient"},
		{name: "sentinel", url: "redis://s1:26379,s2:26379/0?master_name=mymaster", want: "*redis.Client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.url)
			if tt.want == "" {
				if err == nil {
					c.Close()
					t.Fatalf("NewClient(%q) = nil error; want an error", tt.url)
				}
				if strings.Contains(err.Error(), "s3cretpw") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient(%q) = %v", tt.url, err)
			}
			defer c.Close()
			if got := typeName(c); got != tt.want {
				t.Fatalf("NewClient(%q) is %s; want %s", tt.url, got, tt.want)
			}
		})
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	}
	return "other"
}

func TestOpenAgainstMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := Open("redis://"+mr.Addr()+"/0", "open:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	jti := replaytest.JTI(t)
	if err := s.Record(ctx, jti, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("open:" + jti) {
		t.Fatal("key not under the given prefix")
	}
	if err := s.Consume(ctx, jti); err != nil {
		t.Fatal(err)
	}
}

// realRedis connects to SIGNET_TEST_REDIS_URL, or skips (fails under
// SIGNET_TEST_REQUIRE_SERVICES=1).
func realRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	u := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	client, err := NewClient(u)
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

// testPrefix returns a random key prefix and deletes whatever is left under it after the test.
func testPrefix(t testing.TB, client redis.UniversalClient) string {
	prefix := "signet-test:" + replaytest.JTI(t) + ":"
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
