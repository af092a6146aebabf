package sqlstore_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/migrations"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// preMigrate applies the PostgreSQL migrations before version upTo by hand, as an installation
// of an earlier release would have them.
func preMigrate(t *testing.T, db *sql.DB, upTo string) {
	t.Helper()
	ctx := ctxT(t)
	boot, err := migrations.Bootstrap(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, boot); err != nil {
		t.Fatal(err)
	}
	fsys, _ := migrations.FS(migrations.Postgres)
	list, _ := migrations.List(migrations.Postgres)
	for _, m := range list {
		if m.Version >= upTo {
			break
		}
		b, err := fs.ReadFile(fsys, m.Name+".sql")
		if err != nil {
			t.Fatal(err)
		}
		// One statement at a time: 0003 builds an index CONCURRENTLY, outside any transaction.
		stmts := []string{string(b)}
		if strings.Contains(string(b), "CONCURRENTLY") {
			var code []string
			for _, line := range strings.Split(string(b), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(line), "--") {
					code = append(code, line)
				}
			}
			stmts = strings.Split(strings.Join(code, "\n"), ";")
		}
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version); err != nil {
			t.Fatal(err)
		}
	}
}

func partitionOf(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	var name string
	if err := db.QueryRowContext(ctxT(t), `SELECT tableoid::regclass::text FROM audit_events WHERE id = $1`, id).Scan(&name); err != nil {
		t.Fatalf("partition of %s: %v", id, err)
	}
	return name
}

func monthStart(t time.Time, add int) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, add, 0)
}

// TestAuditPartitionsOnPostgres: migration 0004 turns an audit_events table with rows into a
// monthly range-partitioned one, keeping every row, its seq and the append-only refusals; new
// events land in their month's partition; a maintenance run creates the months ahead and
// detaches (does not drop) a partition past the retention, which stays append-only.
func TestAuditPartitionsOnPostgres(t *testing.T) {
	if _, ok := sqltest.Postgres(t); !ok {
		t.Skipf("%s not set", sqltest.EnvPostgresURL)
	}
	url := sqltest.NewPostgresSchema(t)
	ctx := ctxT(t)
	raw := openRaw(t, "pgx", url)
	preMigrate(t, raw, "0004")
	now := time.Now().UTC()
	old := []struct {
		id string
		at time.Time
	}{{"old-1", time.Date(2023, 3, 15, 10, 0, 0, 0, time.UTC)}, {"old-2", now.AddDate(-1, 0, 0)}, {"old-3", now}}
	for _, e := range old {
		if _, err := raw.ExecContext(ctx, `INSERT INTO audit_events (id, time, type, outcome) VALUES ($1, $2, 'operation.approve', 'success')`, e.id, e.at); err != nil {
			t.Fatal(err)
		}
	}
	var seqsBefore []int64
	rows, _ := raw.QueryContext(ctx, `SELECT seq FROM audit_events ORDER BY seq`)
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqsBefore = append(seqsBefore, s)
	}
	rows.Close()

	s := openStore(t, url)
	applied, err := s.Migrate(ctx)
	// 0004 first; later migrations (0006, ...) follow it.
	if err != nil || len(applied) == 0 || applied[0] != "0004_audit_partitions" {
		t.Fatalf("Migrate = %v, %v; want 0004 first", applied, err)
	}

	t.Run("the table is partitioned and every row kept, in seq order", func(t *testing.T) {
		var kind string
		if err := raw.QueryRowContext(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'audit_events'::regclass`).Scan(&kind); err != nil || kind != "p" {
			t.Fatalf("relkind %q, %v; want p (partitioned)", kind, err)
		}
		evs, _, err := s.ListAudit(ctx, store.AuditFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
		if !slices.Equal(seqs, seqsBefore) {
			t.Fatalf("seqs after %v; before %v", seqs, seqsBefore)
		}
		for _, e := range old {
			if p := partitionOf(t, raw, e.id); p != "audit_events_legacy" {
				t.Errorf("%s in %s; want audit_events_legacy", e.id, p)
			}
		}
	})

	t.Run("appends land in their month and continue the seq", func(t *testing.T) {
		next := &store.AuditEvent{Type: "operation.approve", Time: monthStart(now, 1).Add(36 * time.Hour)}
		if err := s.AppendAudit(ctx, next); err != nil {
			t.Fatal(err)
		}
		if want := "audit_events_p" + monthStart(now, 1).Format("200601"); partitionOf(t, raw, next.ID) != want {
			t.Errorf("next month's event in %s; want %s", partitionOf(t, raw, next.ID), want)
		}
		if next.Seq <= seqsBefore[len(seqsBefore)-1] {
			t.Errorf("seq %d does not continue after %d", next.Seq, seqsBefore[len(seqsBefore)-1])
		}
		cur := &store.AuditEvent{Type: "operation.approve", Time: now}
		if err := s.AppendAudit(ctx, cur); err != nil || partitionOf(t, raw, cur.ID) != "audit_events_legacy" {
			t.Errorf("this month's event: %v, in %s", err, partitionOf(t, raw, cur.ID))
		}
	})

	t.Run("still append-only, through the parent and each partition", func(t *testing.T) {
		part := "audit_events_p" + monthStart(now, 1).Format("200601")
		for _, stmt := range []string{`UPDATE audit_events SET reason = 'x'`, `DELETE FROM audit_events`, `TRUNCATE audit_events`,
			`DELETE FROM audit_events_legacy`, `TRUNCATE audit_events_legacy`, `UPDATE ` + part + ` SET reason = 'x'`, `TRUNCATE ` + part} {
			if _, err := raw.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v; want the append-only refusal", stmt, err)
			}
		}
	})

	t.Run("maintenance creates the months ahead", func(t *testing.T) {
		later := monthStart(now, 3).Add(time.Hour) // partitions exist through now+3 after 0004
		res, err := s.MaintainAudit(ctx, later, 60)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 4; i <= 3+sqlstore.AuditPartitionsAhead; i++ {
			want = append(want, "audit_events_p"+monthStart(now, i).Format("200601"))
		}
		if !slices.Equal(res.Created, want) || len(res.Detached) != 0 {
			t.Fatalf("created %v, detached %v; want created %v", res.Created, res.Detached, want)
		}
		again, err := s.MaintainAudit(ctx, later, 60)
		if err != nil || len(again.Created)+len(again.Detached) != 0 {
			t.Fatalf("second run: %+v, %v; want nothing to do", again, err)
		}
	})

	t.Run("an event beyond every partition lands in the default one, and its month is left to it", func(t *testing.T) {
		stray := &store.AuditEvent{Type: "operation.approve", Time: monthStart(now, 10).Add(time.Hour)}
		if err := s.AppendAudit(ctx, stray); err != nil {
			t.Fatalf("an approval's audit event dated past the partitions failed: %v", err)
		}
		if p := partitionOf(t, raw, stray.ID); p != "audit_events_default" {
			t.Fatalf("stray event in %s; want audit_events_default", p)
		}
		res, err := s.MaintainAudit(ctx, monthStart(now, 8), 60)
		if err != nil {
			t.Fatal(err)
		}
		blocked := "audit_events_p" + monthStart(now, 10).Format("200601")
		if !slices.Equal(res.Blocked, []string{blocked}) || slices.Contains(res.Created, blocked) ||
			!slices.Contains(res.Created, "audit_events_p"+monthStart(now, 11).Format("200601")) {
			t.Fatalf("%+v; want %s blocked and the months around it created", res, blocked)
		}
	})

	t.Run("one replica at a time", func(t *testing.T) {
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('signet.audit.maintenance.' || coalesce(current_schema(), '')))`); err != nil {
			t.Fatal(err)
		}
		res, err := s.MaintainAudit(ctx, monthStart(now, 9), 60)
		if err != nil || !res.Skipped || len(res.Created) != 0 {
			t.Fatalf("run while another holds the lock: %+v, %v; want skipped", res, err)
		}
	})

	t.Run("a partition past the retention is detached, not dropped", func(t *testing.T) {
		// Retention 13 months, 14 months after the legacy partition's end.
		at := monthStart(now, 1+14)
		res, err := s.MaintainAudit(ctx, at, 13)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(res.Detached, "audit_events_legacy") {
			t.Fatalf("detached %v; want audit_events_legacy among them", res.Detached)
		}
		if slices.Contains(res.Detached, "audit_events_p"+monthStart(now, 3).Format("200601")) {
			t.Errorf("detached %v: a partition within the retention", res.Detached)
		}
		parts, err := s.AuditPartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parts["audit_events_legacy"]; ok {
			t.Error("audit_events_legacy still attached")
		}
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM audit_events_legacy`).Scan(&n); err != nil || n != len(old)+1 {
			t.Fatalf("detached table holds %d rows (%v); want %d", n, err, len(old)+1)
		}
		for _, stmt := range []string{`DELETE FROM audit_events_legacy`, `UPDATE audit_events_legacy SET reason = 'x'`, `TRUNCATE audit_events_legacy`} {
			if _, err := raw.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("detached: %s: %v; want the append-only refusal", stmt, err)
			}
		}
		evs, _, _ := s.ListAudit(ctx, store.AuditFilter{Limit: 100})
		for _, e := range evs {
			if strings.HasPrefix(e.ID, "old-") {
				t.Errorf("event %s of a detached partition still listed", e.ID)
			}
		}
	})
}

// TestMaintainAuditIsANoOpOnSQLite: SQLite does not partition.
func TestMaintainAuditIsANoOpOnSQLite(t *testing.T) {
	s := openStore(t, sqltest.SQLitePath(t))
	if _, err := s.Migrate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	res, err := s.MaintainAudit(ctxT(t), time.Now(), 60)
	if err != nil || fmt.Sprint(res) != fmt.Sprint(sqlstore.AuditMaintenance{}) {
		t.Fatalf("MaintainAudit on SQLite = %+v, %v", res, err)
	}
}
