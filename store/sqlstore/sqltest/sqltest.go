// Package sqltest gives tests real databases for store/sqlstore: a fresh
// SQLite file always, and a fresh PostgreSQL schema when
// SIGNET_TEST_POSTGRES_URL is set (required when SIGNET_TEST_REQUIRE_SERVICES=1).
package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-sca/signet/store/sqlstore"
)

// Environment variables read by this package.
const (
	EnvPostgresURL      = "SIGNET_TEST_POSTGRES_URL"
	EnvRequireServices  = "SIGNET_TEST_REQUIRE_SERVICES"
	connectTimeout      = 5 * time.Second
	schemaPrefix        = "signet_test_"
	defaultTestMaxConns = 8
)

// Required reports whether SIGNET_TEST_REQUIRE_SERVICES=1: a missing or
// unreachable service must fail the test instead of skipping it.
func Required() bool { return os.Getenv(EnvRequireServices) == "1" }

// Postgres returns SIGNET_TEST_POSTGRES_URL and true when it is set and the
// server answers. Otherwise it returns false, or fails the test when services
// are required.
func Postgres(t testing.TB) (string, bool) {
	t.Helper()
	u := os.Getenv(EnvPostgresURL)
	if u == "" {
		if Required() {
			t.Fatalf("%s is not set and %s=1", EnvPostgresURL, EnvRequireServices)
		}
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		_ = conn.Close(ctx)
	}
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL at %s is unreachable: %v", EnvPostgresURL, err)
		}
		t.Logf("PostgreSQL at %s is unreachable, skipping: %v", EnvPostgresURL, err)
		return "", false
	}
	return u, true
}

// NewPostgresSchema creates a schema signet_test_<random> on the test server,
// drops it (CASCADE) when the test and its subtests end, and returns a URL
// whose connections use it (search_path), so that runs never see each other's
// data. It skips the test when PostgreSQL is not configured.
func NewPostgresSchema(t testing.TB) string {
	t.Helper()
	base, ok := Postgres(t)
	if !ok {
		t.Skipf("%s not set; skipping PostgreSQL", EnvPostgresURL)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := schemaPrefix + hex.EncodeToString(b[:])

	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvPostgresURL)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLitePath returns the path of a new SQLite database in a temporary
// directory removed when the test ends.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "signet.db")
}

// OpenSQLite returns a migrated store on a new SQLite file, closed when the
// test ends.
func OpenSQLite(t testing.TB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	return open(t, SQLitePath(t), opts...)
}

// OpenPostgres returns a migrated store in a new PostgreSQL schema, closed
// (and the schema dropped) when the test ends. It skips the test when
// PostgreSQL is not configured, or fails it when services are required.
func OpenPostgres(t testing.TB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	u := NewPostgresSchema(t)
	opts = append([]sqlstore.Option{sqlstore.WithMaxOpenConns(defaultTestMaxConns)}, opts...)
	return open(t, u, opts...)
}

func open(t testing.TB, databaseURL string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, databaseURL, opts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
