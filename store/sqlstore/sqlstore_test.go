package sqlstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.OpenSQLite(t) })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	if _, ok := sqltest.Postgres(t); !ok {
		t.Skip(sqltest.EnvPostgresURL + " not set or unreachable; skipping PostgreSQL")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.OpenPostgres(t) })
}

// TestWithSchema: WithSchema creates its schema and keeps the store in it;
// two schemas on one database do not see each other's rows.
func TestWithSchema(t *testing.T) {
	base, ok := sqltest.Postgres(t)
	if !ok {
		t.Skip(sqltest.EnvPostgresURL + " not set or unreachable; skipping PostgreSQL")
	}
	ctx := ctxT(t)
	open := func() *sqlstore.Store {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "signet_test_ws_" + hex.EncodeToString(b[:])
		s, err := sqlstore.Open(ctx, base, sqlstore.WithSchema(schema), sqlstore.WithMaxOpenConns(2))
		if err != nil {
			t.Fatalf("Open WithSchema: %v", err)
		}
		t.Cleanup(func() {
			db := openRaw(t, "pgx", base)
			if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		t.Cleanup(func() { _ = s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
	a, b := open(), open()
	u := store.User{ExternalID: "only-in-a"}
	if err := a.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetUserByExternalID(ctx, "only-in-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schema b sees schema a's user: %v", err)
	}
	if _, err := a.GetUserByExternalID(ctx, "only-in-a"); err != nil {
		t.Fatal(err)
	}
}

// TestPoolKeepsConnections: a burst of as many concurrent queries as the pool
// has connections reuses them instead of closing some on release and dialling
// again (a new server process each on PostgreSQL).
func TestPoolKeepsConnections(t *testing.T) {
	if _, ok := sqltest.Postgres(t); !ok {
		t.Skip(sqltest.EnvPostgresURL + " not set or unreachable; skipping PostgreSQL")
	}
	const conns = 16
	s := sqltest.OpenPostgres(t, sqlstore.WithMaxOpenConns(conns))
	ctx := ctxT(t)
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.GetUser(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetUser: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	st := s.PoolStats()
	if st.MaxIdleClosed != 0 {
		t.Fatalf("the pool closed %d connections for want of idle slots (open %d)", st.MaxIdleClosed, st.OpenConnections)
	}
	if st.OpenConnections < 2 {
		t.Fatalf("the burst ran on %d connection(s): the test did not exercise the pool", st.OpenConnections)
	}
}
