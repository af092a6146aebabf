package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/signet-sca/signet/migrations"
)

// Migrate applies the pending embedded migrations of the store's dialect, in
// version order, each in its own transaction together with its row in
// schema_migrations, and returns the names of those it applied ("0001_init").
// Running it again applies nothing. Two processes migrating at once are
// serialised: on PostgreSQL by an advisory lock (one per schema), on SQLite by
// BEGIN IMMEDIATE; the loser finds the work done.
//
// A NoTransaction migration (PostgreSQL's CREATE INDEX CONCURRENTLY) runs its
// statements one by one on a single connection holding the session form of
// the same lock, and is recorded after the last one. On PostgreSQL the lock is
// taken by polling (pg_try_advisory_*), never by a statement that waits: a
// concurrent index build waits for every transaction with an older snapshot,
// so a replica blocked on the lock would deadlock with the one building.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	return s.MigrateReporting(ctx, nil)
}

// MigrateReporting is Migrate, calling starting (when not nil) with each
// migration's name just before it is applied: a concurrent index build on a
// large table can take minutes.
func (s *Store) MigrateReporting(ctx context.Context, starting func(name string)) ([]string, error) {
	if starting == nil {
		starting = func(string) {}
	}
	list, err := migrations.List(s.dialect)
	if err != nil {
		return nil, err
	}
	boot, err := migrations.Bootstrap(s.dialect)
	if err != nil {
		return nil, err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, s.fail(ctx, "migrate", err)
	}
	if err := s.migrationTx(ctx, sqlDB, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, boot)
		return err
	}); err != nil {
		return nil, s.fail(ctx, "migrate: create schema_migrations", err)
	}

	check, record := "SELECT COUNT(*) FROM schema_migrations WHERE version = ?",
		"INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"
	var appliedAt any = utc(s.now())
	if s.dialect == DialectPostgres {
		check, record = "SELECT COUNT(*) FROM schema_migrations WHERE version = $1",
			"INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)"
	} else {
		appliedAt = utc(s.now()).Format(sqliteTimeLayout)
	}

	var applied []string
	for _, m := range list {
		if m.NoTransaction && s.dialect == DialectPostgres {
			done, err := s.migrateOutsideTx(ctx, sqlDB, m, check, record, appliedAt, starting)
			if err != nil {
				return applied, s.fail(ctx, "migrate: "+m.Name, err)
			}
			if done {
				applied = append(applied, m.Name)
			}
			continue
		}
		done := false
		err := s.migrationTx(ctx, sqlDB, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, check, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			starting(m.Name)
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, record, m.Version, appliedAt); err != nil {
				return err
			}
			done = true
			return nil
		})
		if err != nil {
			return applied, s.fail(ctx, "migrate: "+m.Name, err)
		}
		if done {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

// migrationLockKey is the PostgreSQL advisory lock of migrations: one per schema.
const migrationLockKey = `hashtext('signet.migrate.' || coalesce(current_schema(), ''))`

// lockPoll is how often a migrating process retries the PostgreSQL lock another holds.
const lockPoll = 50 * time.Millisecond

// migrationTx runs fn in a transaction holding the migration lock.
func (s *Store) migrationTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	return untilLocked(ctx, func() (bool, error) { return s.tryMigrationTx(ctx, db, fn) })
}

// untilLocked calls try every lockPoll until it reports the lock taken or
// fails, or ctx ends.
func untilLocked(ctx context.Context, try func() (locked bool, err error)) error {
	for {
		locked, err := try()
		if err != nil || locked {
			return err
		}
		if err := sleepCtx(ctx, lockPoll); err != nil {
			return err
		}
	}
}

// tryMigrationTx runs fn in a transaction if it gets the migration lock; false
// (and no error) when another process holds it.
func (s *Store) tryMigrationTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (locked bool, err error) {
	tx, err := db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (see sqliteDSN)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !locked {
			_ = tx.Rollback()
		}
	}()
	if s.dialect == DialectPostgres {
		// Released at commit or rollback.
		if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock("+migrationLockKey+")").Scan(&locked); err != nil || !locked {
			return false, err
		}
	}
	if err := fn(tx); err != nil {
		return true, err
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// migrateOutsideTx applies m statement by statement on one connection that
// holds the session-level migration lock, then records it. false when it was
// already applied.
func (s *Store) migrateOutsideTx(ctx context.Context, db *sql.DB, m migrations.Migration, check, record string, appliedAt any,
	starting func(string)) (done bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if err := untilLocked(ctx, func() (locked bool, err error) {
		err = conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+migrationLockKey+")").Scan(&locked)
		return locked, err
	}); err != nil {
		return false, err
	}
	defer func() {
		// A session lock outlives a returned connection: if it cannot be released, the
		// connection is discarded (closing the session releases it) rather than pooled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var released bool
		uerr := conn.QueryRowContext(uctx, "SELECT pg_advisory_unlock("+migrationLockKey+")").Scan(&released)
		if uerr != nil || !released {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	var n int
	if err := conn.QueryRowContext(ctx, check, m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	starting(m.Name)
	for _, stmt := range m.Statements() {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("%q: %w", stmt, err)
		}
	}
	if _, err := conn.ExecContext(ctx, record, m.Version, appliedAt); err != nil {
		return false, err
	}
	return true, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AppliedMigrations returns the versions recorded in schema_migrations with
// the time each was applied.
func (s *Store) AppliedMigrations(ctx context.Context) (map[string]time.Time, error) {
	var rows []struct {
		Version   string `gorm:"column:version"`
		AppliedAt dbTime `gorm:"column:applied_at"`
	}
	if err := s.db.WithContext(ctx).Raw("SELECT version, applied_at FROM schema_migrations").Scan(&rows).Error; err != nil {
		return nil, s.fail(ctx, "applied migrations", err)
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.Version] = r.AppliedAt.time()
	}
	return out, nil
}
