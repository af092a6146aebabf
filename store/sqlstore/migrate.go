package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/signet-sca/signet/migrations"
)

// Migrate applies the pending embedded migrations of the store's dialect, in
// version order, each in its own transaction together with its row in
// schema_migrations, and returns the names of those it applied ("0001_init").
// Running it again applies nothing. Two processes migrating at once are
// serialised: on PostgreSQL by a transaction-scoped advisory lock (one per
// schema), on SQLite by BEGIN IMMEDIATE; the loser finds the work done.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
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
		done := false
		err := s.migrationTx(ctx, sqlDB, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, check, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
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

// migrationTx runs fn in a transaction holding the migration lock.
func (s *Store) migrationTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (see sqliteDSN)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.dialect == DialectPostgres {
		// One lock per schema, released at commit or rollback.
		if _, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtext('signet.migrate.' || coalesce(current_schema(), '')))`); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
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
