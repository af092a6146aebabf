package loadbench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	_ "github.com/glebarez/go-sqlite"  // single-row update bound in embedded mode
	_ "github.com/jackc/pgx/v5/stdlib" // single-row update bound on PostgreSQL

	"github.com/signet-sca/signet/txsign/replay/redisreplay"
)

// measurePrimitives times, in this process, what the flows are bound by:
// ECDSA P-256 verify, ES256 sign, one Redis GETDEL and one single-row UPDATE.
func measurePrimitives(ctx context.Context, cfg Config) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("signet bench"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	out["ecdsa_verify"] = per(500, func() error {
		ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig)
		return nil
	})
	out["es256_sign"] = per(500, func() error {
		_, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		return err
	})
	if slices.Contains(cfg.Flows, "passkey") {
		out["argon2id"] = per(20, argon2Cost(cfg.Argon2))
	}
	if cfg.RedisURL != "" {
		rc, err := redisreplay.NewClient(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		out["redis_getdel"] = per(500, func() error { return rc.GetDel(ctx, "signet-bench:absent").Err() })
	}
	d, err := rowUpdate(ctx, cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("row update: %w", err)
	}
	out["row_update"] = d
	return out, nil
}

// rowUpdate times one autocommitted single-row UPDATE: on PostgreSQL when a
// URL is given (in a scratch table, dropped afterwards), else on a scratch
// SQLite file in WAL mode like Signet's embedded store.
func rowUpdate(ctx context.Context, pgURL string) (time.Duration, error) {
	driver, dsn := "pgx", pgURL
	if pgURL == "" {
		dir, err := os.MkdirTemp("", "signet-bench-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		driver, dsn = "sqlite", filepath.Join(dir, "b.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	// A real (logged) table: temporary tables skip the write-ahead log and
	// would understate the cost.
	table := fmt.Sprintf("signet_bench_row_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)"); err != nil {
		return 0, err
	}
	defer db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+table)
	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" (id, n) VALUES (1, 0)"); err != nil {
		return 0, err
	}
	var failed error
	d := per(300, func() error {
		_, err := db.ExecContext(ctx, "UPDATE "+table+" SET n = n + 1 WHERE id = 1")
		if err != nil {
			failed = err
		}
		return err
	})
	return d, failed
}

// per is the cost of one call of fn: the median of the means of five rounds
// of n/5 calls each, after a warm-up, so that one stall (a GC pause, an fsync
// queued behind another process's I/O) does not move the bound.
func per(n int, fn func() error) time.Duration {
	for i := 0; i < n/10+1; i++ {
		_ = fn()
	}
	const rounds = 5
	each := max(n/rounds, 1)
	means := make([]time.Duration, rounds)
	for r := range means {
		start := time.Now()
		for i := 0; i < each; i++ {
			_ = fn()
		}
		means[r] = time.Since(start) / time.Duration(each)
	}
	return median(means)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
