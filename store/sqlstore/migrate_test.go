package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"  // database/sql driver "sqlite"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/signet-sca/signet/migrations"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// backend is one database the migration tests run against: url opens the
// store, raw opens a plain database/sql handle on the same database.
type backend struct {
	name    string
	dialect string
	url     func(t *testing.T) string
	driver  string
}

func backends(t *testing.T) []backend {
	bs := []backend{{name: "sqlite", dialect: migrations.SQLite, url: func(t *testing.T) string { return sqltest.SQLitePath(t) }, driver: "sqlite"}}
	if _, ok := sqltest.Postgres(t); ok {
		bs = append(bs, backend{name: "postgres", dialect: migrations.Postgres, url: func(t *testing.T) string { return sqltest.NewPostgresSchema(t) }, driver: "pgx"})
	} else {
		t.Logf("%s not set: PostgreSQL migration tests skipped", sqltest.EnvPostgresURL)
	}
	return bs
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(ctxT(t), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openRaw(t *testing.T, driver, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func allNames(t *testing.T, dialect string) []string {
	list, err := migrations.List(dialect)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Name)
	}
	return names
}

func TestMigrateTwice(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := ctxT(t)
			s := openStore(t, b.url(t))
			applied, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("first Migrate: %v", err)
			}
			if want := allNames(t, b.dialect); !slices.Equal(applied, want) {
				t.Fatalf("first Migrate applied %v, want %v", applied, want)
			}
			again, err := s.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Migrate applied %v, %v; want nothing", again, err)
			}
			recorded, err := s.AppliedMigrations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := recorded["0001"]; !ok || len(recorded) != len(applied) {
				t.Fatalf("schema_migrations holds %v", recorded)
			}
			for v, at := range recorded {
				if at.IsZero() || at.Location() != time.UTC {
					t.Errorf("version %s applied_at %v", v, at)
				}
			}
		})
	}
}

// TestMigrateConcurrently: two processes (two pools) migrating one database
// at once apply every migration exactly once between them, without error.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			s1, s2 := openStore(t, url), openStore(t, url)
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied []string
				errs    []error
			)
			for _, s := range []*sqlstore.Store{s1, s2} {
				wg.Go(func() {
					got, err := s.Migrate(ctxT(t))
					mu.Lock()
					defer mu.Unlock()
					applied = append(applied, got...)
					if err != nil {
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("Migrate errors: %v", errs)
			}
			slices.Sort(applied)
			if want := allNames(t, b.dialect); !slices.Equal(applied, want) {
				t.Fatalf("together applied %v, want each of %v once", applied, want)
			}
		})
	}
}

// TestAuditAppendOnlyInSchema: the database itself refuses to change or
// delete audit events, whoever asks.
func TestAuditAppendOnlyInSchema(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := ctxT(t)
			url := b.url(t)
			s := openStore(t, url)
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			db := openRaw(t, b.driver, url)
			insert := `INSERT INTO audit_events (id, "time", type) VALUES ('e1', ?, 't')`
			var now any = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
			if b.dialect == migrations.Postgres {
				insert, now = strings.Replace(insert, "?", "$1", 1), time.Now()
			}
			if _, err := db.ExecContext(ctx, insert, now); err != nil {
				t.Fatalf("insert: %v", err)
			}
			refused := []string{`UPDATE audit_events SET reason = 'x'`, `DELETE FROM audit_events`}
			if b.dialect == migrations.Postgres {
				refused = append(refused, `TRUNCATE audit_events`)
			}
			for _, stmt := range refused {
				if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: got %v, want the append-only refusal", stmt, err)
				}
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE reason = ''`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("audit event changed or gone: count %d, %v", n, err)
			}
		})
	}
}

// TestSchemasMatch: both dialects create the same tables with the same
// columns in the same order. SQLite is read from PRAGMA table_info of a real
// database; PostgreSQL from information_schema of a real database when one is
// configured, otherwise from the CREATE TABLE statements of its files.
func TestSchemasMatch(t *testing.T) {
	ctx := ctxT(t)
	path := sqltest.SQLitePath(t)
	s := openStore(t, path)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lite := sqliteColumns(t, openRaw(t, "sqlite", path))
	if len(lite) < 8 {
		t.Fatalf("SQLite schema has only tables %v", lite)
	}

	// The textual parser must agree with SQLite itself before it may stand
	// in for PostgreSQL.
	if parsed := parseColumns(t, migrations.SQLite); !reflect.DeepEqual(parsed, lite) {
		t.Fatalf("parsed SQLite files %v\ndisagree with the database %v", parsed, lite)
	}

	var pg map[string][]string
	if _, ok := sqltest.Postgres(t); ok {
		url := sqltest.NewPostgresSchema(t)
		ps := openStore(t, url)
		if _, err := ps.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		pg = postgresColumns(t, openRaw(t, "pgx", url))
		if parsed := parseColumns(t, migrations.Postgres); !reflect.DeepEqual(parsed, pg) {
			t.Fatalf("parsed PostgreSQL files %v\ndisagree with the database %v", parsed, pg)
		}
	} else {
		t.Logf("%s not set: comparing with the parsed PostgreSQL files", sqltest.EnvPostgresURL)
		pg = parseColumns(t, migrations.Postgres)
	}

	for table, cols := range lite {
		if !slices.Equal(cols, pg[table]) {
			t.Errorf("table %s:\n  sqlite   %v\n  postgres %v", table, cols, pg[table])
		}
	}
	for table := range pg {
		if _, ok := lite[table]; !ok {
			t.Errorf("table %s exists only on PostgreSQL", table)
		}
	}
}

// TestTablesMatchMigrations: on each dialect, every migrated table has a row
// struct and the two have the same columns, so that a column added to one and
// forgotten in the other fails here with its name (the order may differ: a
// column a later migration adds comes last in the table).
func TestTablesMatchMigrations(t *testing.T) {
	declared := sqlstore.DeclaredColumns()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			if _, err := openStore(t, url).Migrate(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			db := openRaw(t, b.driver, url)
			migrated := postgresColumns
			if b.dialect == migrations.SQLite {
				migrated = sqliteColumns
			}
			tables := migrated(t, db)
			delete(tables, "schema_migrations") // the migrator's own (migrate.go)
			for table, cols := range tables {
				row, ok := declared[table]
				if !ok {
					t.Errorf("table %s has no row struct", table)
					continue
				}
				for _, c := range cols {
					if !slices.Contains(row, c) {
						t.Errorf("column %s.%s is in the migrations but not in the row struct", table, c)
					}
				}
				for _, c := range row {
					if !slices.Contains(cols, c) {
						t.Errorf("column %s.%s is in the row struct but not in the migrations", table, c)
					}
				}
			}
			for table := range declared {
				if _, ok := tables[table]; !ok {
					t.Errorf("row struct of table %s, which the migrations do not create", table)
				}
			}
		})
	}
}

func sqliteColumns(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		cols, err := db.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		for cols.Next() {
			var name string
			if err := cols.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], name)
		}
		if err := cols.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func postgresColumns(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	rows, err := db.Query(`SELECT c.table_name, c.column_name
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		  AND NOT EXISTS (SELECT 1 FROM pg_class k WHERE k.relname = c.table_name
		      AND k.relnamespace = current_schema()::regnamespace AND k.relispartition) -- audit_events' months
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	createTable = regexp.MustCompile(`(?is)CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);`)
	notAColumn  = regexp.MustCompile(`(?i)^(PRIMARY|UNIQUE|CONSTRAINT|FOREIGN|CHECK|EXCLUDE)\b`)
	addColumn   = regexp.MustCompile(`(?i)ALTER TABLE (\w+) ADD COLUMN (?:IF NOT EXISTS )?(\w+)`)
)

// parseColumns reads the column names out of every CREATE TABLE in the
// dialect's migration files (one column per line, as the files are written).
func parseColumns(t *testing.T, dialect string) map[string][]string {
	t.Helper()
	fsys, err := migrations.FS(dialect)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		// CREATE TABLE and ALTER TABLE ... ADD COLUMN, in the order they appear.
		type stmt struct {
			at     int
			create []string
			alter  []string
		}
		var stmts []stmt
		for _, ix := range createTable.FindAllStringSubmatchIndex(string(b), -1) {
			stmts = append(stmts, stmt{at: ix[0], create: []string{string(b)[ix[2]:ix[3]], string(b)[ix[4]:ix[5]]}})
		}
		for _, ix := range addColumn.FindAllStringSubmatchIndex(string(b), -1) {
			stmts = append(stmts, stmt{at: ix[0], alter: []string{string(b)[ix[2]:ix[3]], string(b)[ix[4]:ix[5]]}})
		}
		sort.Slice(stmts, func(i, j int) bool { return stmts[i].at < stmts[j].at })
		for _, st := range stmts {
			if st.alter != nil {
				out[st.alter[0]] = append(out[st.alter[0]], st.alter[1])
				continue
			}
			table := st.create[0]
			for _, line := range strings.Split(st.create[1], "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "--") || notAColumn.MatchString(line) {
					continue
				}
				out[table] = append(out[table], strings.Fields(line)[0])
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no CREATE TABLE found in %s files", dialect)
	}
	return out
}

// TestIndexBuildLetsWritesThrough: on PostgreSQL migration 0003 builds its
// index CONCURRENTLY. Run while a transaction has written to the outbox, the
// build waits for that transaction, and other writes to the outbox go through
// meanwhile; a plain CREATE INDEX would queue them behind its SHARE lock, so
// every approval (each writes an outbox event) would wait for the build.
func TestIndexBuildLetsWritesThrough(t *testing.T) {
	if _, ok := sqltest.Postgres(t); !ok {
		t.Skipf("%s not set", sqltest.EnvPostgresURL)
	}
	url := sqltest.NewPostgresSchema(t)
	ctx := ctxT(t)
	s := openStore(t, url)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw := openRaw(t, "pgx", url)
	// As if this database predated 0003.
	for _, q := range []string{"DROP INDEX outbox_events_created_at_idx", "DELETE FROM schema_migrations WHERE version = '0003'"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	insert := func(ctx context.Context, q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		n++
		_, err := q.ExecContext(ctx, `INSERT INTO outbox_events (id, endpoint, type, next_attempt_at, created_at)
			VALUES ($1, 'https://bank.example/hook', 'operation.approved', now(), now())`, fmt.Sprintf("evt-%d", n))
		return err
	}
	writer, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback()
	if err := insert(ctx, writer); err != nil {
		t.Fatal(err)
	}
	migrated := make(chan error, 1)
	go func() {
		var started []string
		applied, err := s.MigrateReporting(ctx, func(name string) { started = append(started, name) })
		if want := []string{"0003_outbox_created_at"}; err == nil && (!slices.Equal(applied, want) || !slices.Equal(started, want)) {
			err = fmt.Errorf("applied %v, reported %v", applied, started)
		}
		migrated <- err
	}()
	// Until the build waits for the open writer.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE '%CREATE INDEX%outbox_events_created_at_idx%' AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index build never waited for the open writer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := insert(wctx, raw); err != nil {
		t.Fatalf("a write to the outbox waited behind the index build: %v", err)
	}
	select {
	case err := <-migrated:
		t.Fatalf("the build ended while a writer's transaction was open: %v", err)
	default:
	}
	if err := writer.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	var valid bool
	if err := raw.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'outbox_events_created_at_idx' AND c.relnamespace = current_schema()::regnamespace`).Scan(&valid); err != nil || !valid {
		t.Fatalf("index valid: %v, %v", valid, err)
	}
	if recorded, err := s.AppliedMigrations(ctx); err != nil || recorded["0003"].IsZero() {
		t.Fatalf("0003 not recorded: %v %v", recorded, err)
	}
}
