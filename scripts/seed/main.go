// Command seed fills an embedded (SQLite) Signet database with many users and
// audit events, in large transactions, for the memory measurement in
// scripts/memory.sh. It writes the schema's own text time format. Not for
// production data: the users have no credentials and the events no evidence.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"time"

	_ "github.com/glebarez/go-sqlite"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/store/sqlstore"
)

func main() {
	db := flag.String("db", "./data/signet.db", "SQLite database file (migrated here first)")
	users := flag.Int("users", 100_000, "users to create")
	events := flag.Int("events", 1_000_000, "audit events to append")
	flag.Parse()
	if err := run(*db, *users, *events); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

const timeFormat = "2006-01-02T15:04:05.000000Z"

func run(path string, users, events int) error {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, path)
	if err != nil {
		return err
	}
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	st.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC().Format(timeFormat)
	ids := make([]string, users)
	start := time.Now()
	err = batches(db, users, 10_000, "INSERT INTO users (id, external_id, display_name, webauthn_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		func(i int) []any {
			ids[i] = uuid.NewString()
			return []any{ids[i], fmt.Sprintf("seed-%d", i), fmt.Sprintf("Customer %d", i), []byte(ids[i]), now, now}
		})
	if err != nil {
		return err
	}
	fmt.Printf("%d users in %s\n", users, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	err = batches(db, events, 20_000, "INSERT INTO audit_events (id, time, type, outcome, actor, user_id) VALUES (?, ?, ?, ?, ?, ?)",
		func(i int) []any {
			return []any{uuid.NewString(), now, "user.create", "success", "seed", ids[i%users]}
		})
	if err != nil {
		return err
	}
	fmt.Printf("%d audit events in %s\n", events, time.Since(start).Round(time.Millisecond))
	return nil
}

func batches(db *sql.DB, n, size int, query string, row func(i int) []any) error {
	for from := 0; from < n; from += size {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(query)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := from; i < n && i < from+size; i++ {
			if _, err := stmt.Exec(row(i)...); err != nil {
				tx.Rollback()
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "\r%d/%d", min(from+size, n), n)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}
