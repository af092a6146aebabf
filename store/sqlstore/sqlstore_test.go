package sqlstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
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
