package loadbench

import (
	"context"
	"database/sql"
	"time"
)

// pgCounters are the cumulative counters of Signet's database in
// pg_stat_database (PostgreSQL docs, "The Cumulative Statistics System"):
// commits and rows written. Statements come from pg_stat_statements when that
// extension is installed (-1 otherwise).
type pgCounters struct {
	commits, rollbacks, inserted, updated, deleted, statements int64
	own                                                        int64 // transactions (and statements) of this reading itself
}

// pgStats reads the counters of the database the bench's PostgreSQL URL names,
// which must be the database the measured Signet uses.
type pgStats struct {
	db         *sql.DB
	statements bool // pg_stat_statements is installed
}

func openPGStats(ctx context.Context, url string) (*pgStats, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	var n int
	_ = db.QueryRowContext(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'`).Scan(&n)
	return &pgStats{db: db, statements: n > 0}, nil
}

func (p *pgStats) Close() error { return p.db.Close() }

// flushWait lets every backend publish its pending statistics: a backend
// flushes at most once a second, and one that goes idle within a second of
// its last flush waits PGSTAT_IDLE_INTERVAL (10 s, PostgreSQL 15+) before it
// flushes again, so anything shorter under-counts.
const flushWait = 11 * time.Second

func (p *pgStats) read(ctx context.Context) (pgCounters, error) {
	select {
	case <-time.After(flushWait):
	case <-ctx.Done():
		return pgCounters{}, ctx.Err()
	}
	var c pgCounters
	err := p.db.QueryRowContext(ctx, `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.commits, &c.rollbacks, &c.inserted, &c.updated, &c.deleted)
	if err != nil {
		return pgCounters{}, err
	}
	c.statements, c.own = -1, 1
	if p.statements {
		c.own = 2
		if err := p.db.QueryRowContext(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&c.statements); err != nil {
			c.statements = -1
		}
	}
	return c, nil
}

// DBPerOp is what one completed operation cost the database, from the
// counters' deltas over a flow (everything Signet did in that time, divided by
// the operations completed, less the bench's own reading of the counters).
type DBPerOp struct {
	Commits    float64 `json:"commits"`
	Rollbacks  float64 `json:"rollbacks"`
	RowsWrite  float64 `json:"rows_written"`
	Statements float64 `json:"statements,omitempty"`
}

func perOp(before, after pgCounters, ops int) *DBPerOp {
	if ops <= 0 {
		return nil
	}
	n := float64(ops)
	d := &DBPerOp{Commits: float64(after.commits-before.commits-before.own) / n, Rollbacks: float64(after.rollbacks-before.rollbacks) / n,
		RowsWrite: float64(after.inserted-before.inserted+after.updated-before.updated+after.deleted-before.deleted) / n}
	if before.statements >= 0 && after.statements >= 0 {
		d.Statements = float64(after.statements-before.statements-before.own) / n
	}
	return d
}
