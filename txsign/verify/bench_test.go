package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/internal/benchutil"
	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// BenchmarkVerifyLocal is what a gateway spends per request without I/O: parse, ES256
// signature, claims.
func BenchmarkVerifyLocal(b *testing.B) {
	c := newClock()
	s := newSigner(b, "k1")
	v := newTestVerifier(b, StaticKeys{"k1": &s.key.PublicKey}, c, nil)
	tok := s.mint(b, validClaims(b, c.Now()), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	benchutil.Report(b, map[string]func() float64{"ecdsa-verify": func() float64 { return rawVerify(b, s) }})
}

// rawVerify is the P-256 ECDSA verification primitive's time per call.
func rawVerify(b *testing.B, s *signer) float64 {
	digest := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	return benchutil.Raw(b, 300, func() { ecdsa.VerifyASN1(&s.key.PublicKey, digest[:], sig) })
}

// BenchmarkECDSAVerifyRaw is the P-256 verification primitive alone, to read
// BenchmarkVerifyLocal as a ratio over it.
func BenchmarkECDSAVerifyRaw(b *testing.B) {
	s := newSigner(b, "k1")
	digest := sha256.Sum256([]byte("header.payload"))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&s.key.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyAndConsumeMemory adds the in-process replay store.
func BenchmarkVerifyAndConsumeMemory(b *testing.B) {
	c := newClock()
	store := replay.NewMemory(c.Now, replay.WithMaxEntries(b.N+1))
	benchVerifyAndConsume(b, c, store, nil, func(jtis []string) {
		for _, id := range jtis {
			if err := store.Record(context.Background(), id, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyAndConsumeRedis is the full gateway path against a real Redis
// (SIGNET_TEST_REDIS_URL): local verification plus one GETDEL round trip.
func BenchmarkVerifyAndConsumeRedis(b *testing.B) {
	client, prefix := benchRedis(b)
	store := redisreplay.New(client, prefix)
	ctx := context.Background()
	raw := map[string]func() float64{"redis-getdel": func() float64 {
		return benchutil.Raw(b, 300, func() { client.GetDel(ctx, prefix+"absent") })
	}}
	benchVerifyAndConsume(b, newClock(), store, raw, func(jtis []string) {
		pipe := client.Pipeline()
		for _, id := range jtis {
			pipe.Set(context.Background(), prefix+id, "1", time.Hour)
		}
		if _, err := pipe.Exec(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkRedisGETDELRaw is one GETDEL round trip alone, for the ratio.
func BenchmarkRedisGETDELRaw(b *testing.B) {
	client, prefix := benchRedis(b)
	ctx := context.Background()
	keys := make([]string, b.N)
	pipe := client.Pipeline()
	for i := range keys {
		keys[i] = prefix + replaytest.JTI(b)
		pipe.Set(ctx, keys[i], "1", time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := client.GetDel(ctx, keys[i]).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerifyAndConsume(b *testing.B, c *clock, store replay.Store, raw map[string]func() float64, record func(jtis []string)) {
	s := newSigner(b, "k1")
	v := newTestVerifier(b, StaticKeys{"k1": &s.key.PublicKey}, c, store)
	tokens := make([]string, b.N)
	jtis := make([]string, b.N)
	for i := range tokens {
		cl := validClaims(b, c.Now())
		jtis[i] = cl.ID
		tokens[i] = s.mint(b, cl, nil)
	}
	record(jtis)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.VerifyAndConsume(ctx, tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	if raw == nil {
		raw = map[string]func() float64{}
	}
	raw["ecdsa-verify"] = func() float64 { return rawVerify(b, s) }
	benchutil.Report(b, raw)
}

// benchRedis connects to SIGNET_TEST_REDIS_URL or skips (benchmarks may skip even in CI).
func benchRedis(b *testing.B) (redis.UniversalClient, string) {
	b.Helper()
	u := os.Getenv(replaytest.EnvRedisURL)
	if u == "" {
		b.Skip(replaytest.EnvRedisURL + " not set")
	}
	client, err := redisreplay.NewClient(u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		b.Skipf("Redis unreachable: %v", err)
	}
	prefix := "signet-bench:" + replaytest.JTI(b) + ":"
	b.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return client, prefix
}
