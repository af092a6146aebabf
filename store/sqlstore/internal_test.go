package sqlstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/signet-sca/signet/store"
)

func TestSQLiteDSN(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  bool
		wantPath string
		wantDSN  string // prefix of the DSN, before the parameters
	}{
		{name: "empty", in: "", wantErr: true},
		{name: "empty sqlite URL", in: "sqlite://", wantErr: true},
		{name: "remote file host", in: "file://db.example/x.db", wantErr: true},
		{name: "bad parameters", in: "x.db?a=%zz", wantErr: true},
		{name: "relative path", in: "data/signet.db", wantPath: "data/signet.db", wantDSN: "data/signet.db?"},
		{name: "absolute path", in: "/var/lib/signet/signet.db", wantPath: "/var/lib/signet/signet.db", wantDSN: "/var/lib/signet/signet.db?"},
		{name: "sqlite URL, absolute", in: "sqlite:///var/lib/signet.db", wantPath: "/var/lib/signet.db", wantDSN: "/var/lib/signet.db?"},
		{name: "sqlite URL, relative", in: "sqlite://signet.db", wantPath: "signet.db", wantDSN: "signet.db?"},
		{name: "sqlite scheme only", in: "sqlite:signet.db", wantPath: "signet.db", wantDSN: "signet.db?"},
		{name: "file URI", in: "file:/tmp/s.db?mode=rwc", wantPath: "/tmp/s.db", wantDSN: "file:/tmp/s.db?"},
		{name: "file URI with empty host", in: "file:///tmp/s.db", wantPath: "/tmp/s.db", wantDSN: "file:///tmp/s.db?"},
		{name: "file URI, escaped", in: "file:/tmp/a%20b.db", wantPath: "/tmp/a b.db", wantDSN: "file:/tmp/a%20b.db?"},
		{name: "memory", in: ":memory:", wantPath: "", wantDSN: ":memory:?"},
		{name: "shared memory URI", in: "file:x?mode=memory&cache=shared", wantPath: "", wantDSN: "file:x?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, path, err := sqliteDSN(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("sqliteDSN(%q) = %q, want an error", tt.in, dsn)
				}
				return
			}
			if err != nil {
				t.Fatalf("sqliteDSN(%q): %v", tt.in, err)
			}
			if path != tt.wantPath || !strings.HasPrefix(dsn, tt.wantDSN) {
				t.Fatalf("sqliteDSN(%q) = %q, %q; want prefix %q and path %q", tt.in, dsn, path, tt.wantDSN, tt.wantPath)
			}
			q, err := url.ParseQuery(dsn[strings.Index(dsn, "?")+1:])
			if err != nil {
				t.Fatal(err)
			}
			pragmas := strings.Join(q["_pragma"], " ")
			for _, p := range []string{"busy_timeout(", "journal_mode(WAL)", "foreign_keys(1)"} {
				if !strings.Contains(pragmas, p) {
					t.Errorf("DSN %q lacks pragma %s", dsn, p)
				}
			}
			if q.Get("_txlock") != "immediate" {
				t.Errorf("DSN %q does not begin transactions IMMEDIATE", dsn)
			}
		})
	}
	t.Run("caller's pragma wins", func(t *testing.T) {
		dsn, _, err := sqliteDSN("x.db?_pragma=busy_timeout(1)")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(dsn, "busy_timeout") != 1 || !strings.Contains(dsn, "busy_timeout%281%29") {
			t.Fatalf("DSN %q overrides or duplicates the caller's busy_timeout", dsn)
		}
	})
}

func TestPostgresDSN(t *testing.T) {
	if _, err := postgresDSN("postgres://u:secret@h/db\x7f", "s"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL: error %v (must exist and not echo the password)", err)
	}
	got, err := postgresDSN("postgres://u@h:5432/db?sslmode=disable", "signet_a")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	if u.Query().Get("search_path") != "signet_a" || u.Query().Get("sslmode") != "disable" {
		t.Fatalf("postgresDSN = %q", got)
	}
	if same, _ := postgresDSN("postgres://h/db", ""); same != "postgres://h/db" {
		t.Fatalf("no schema changed the URL to %q", same)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
		opts []Option
	}{
		{"schema on SQLite", filepath.Join(dir, "a.db"), []Option{WithSchema("x")}},
		{"bad schema name", "postgres://127.0.0.1:1/db", []Option{WithSchema(`x"; DROP`)}},
		{"zero update attempts", filepath.Join(dir, "b.db"), []Option{WithUpdateAttempts(0)}},
		{"empty path", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Open(ctx, tt.url, tt.opts...); err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestSQLiteConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "signet.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Fatalf("parent directory not created: %v", err)
	}
	pragma := func(name string) string {
		var v string
		if err := s.db.Raw("PRAGMA " + name).Row().Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for name, want := range map[string]string{"foreign_keys": "1", "journal_mode": "wal", "busy_timeout": "10000"} {
		if got := pragma(name); got != want {
			t.Errorf("PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	if s.Dialect() != DialectSQLite {
		t.Errorf("Dialect() = %q", s.Dialect())
	}
	// The engine is a current SQLite (modernc.org/sqlite v1.63 bundles 3.5x); the 2023 engine
	// (3.41, modernc v1.23) this replaced fails here.
	var version string
	if err := s.db.Raw("SELECT sqlite_version()").Row().Scan(&version); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil || major != 3 || minor < 50 {
		t.Errorf("SQLite %s; want 3.50 or later", version)
	}
	t.Logf("SQLite %s", version)
}

func TestDBTime(t *testing.T) {
	t.Run("scan refuses", func(t *testing.T) {
		for _, src := range []any{int64(5), "yesterday", []byte("2024-13-01T00:00:00Z")} {
			var d dbTime
			if err := d.Scan(src); err == nil {
				t.Errorf("Scan(%v) succeeded: %v", src, d)
			}
		}
	})
	t.Run("scan", func(t *testing.T) {
		zone := time.FixedZone("X", -3*3600)
		in := time.Date(2024, 2, 29, 23, 59, 59, 999999999, zone)
		want := time.Date(2024, 3, 1, 2, 59, 59, 999999000, time.UTC)
		for _, src := range []any{in, in.Format(time.RFC3339Nano), []byte(want.Format(sqliteTimeLayout))} {
			var d dbTime
			if err := d.Scan(src); err != nil || !d.Valid || !d.T.Equal(want) || d.T.Location() != time.UTC {
				t.Errorf("Scan(%v) = %v, %v; want %v", src, d, err, want)
			}
		}
		var d dbTime
		if err := d.Scan(nil); err != nil || d.Valid || d.ptr() != nil || !d.time().IsZero() {
			t.Errorf("Scan(nil) = %v, %v", d, err)
		}
	})
	t.Run("sqlite text is fixed width and ordered", func(t *testing.T) {
		db := &gorm.DB{Config: &gorm.Config{Dialector: sqlite.Open("unused")}} // not connected
		times := []time.Time{
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 1, 1, 0, 0, 0, 1000, time.UTC),
			time.Date(2024, 1, 1, 0, 0, 0, 100000000, time.UTC),
			time.Date(2024, 1, 1, 0, 0, 1, 0, time.FixedZone("Y", 3600)).Add(time.Hour),
		}
		prev := ""
		for _, tm := range times {
			expr := newTime(tm).GormValue(context.Background(), db)
			s, ok := expr.Vars[0].(string)
			if !ok || len(s) != len(sqliteTimeLayout) || s <= prev {
				t.Fatalf("GormValue(%v) = %v (previous %q)", tm, expr.Vars, prev)
			}
			prev = s
		}
		if got := dbTimeNull(db); got != nil {
			t.Fatalf("NULL time bound as %v", got)
		}
	})
}

func dbTimeNull(db *gorm.DB) any { return dbTime{}.GormValue(context.Background(), db).Vars[0] }

func TestAuditCursor(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "!!", b64("seq:"), b64("seq:-1"), b64("seq:x"), b64("page:3"), b64("seq:99999999999999999999")} {
		if _, err := decodeAuditCursor(bad); err == nil {
			t.Errorf("decodeAuditCursor(%q) accepted", bad)
		}
	}
	for _, seq := range []int64{0, 1, 1 << 62} {
		got, err := decodeAuditCursor(encodeAuditCursor(seq))
		if err != nil || got != seq {
			t.Errorf("round trip of %d gave %d, %v", seq, got, err)
		}
	}
}

func TestFailMapsErrors(t *testing.T) {
	s := &Store{}
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"record not found", gorm.ErrRecordNotFound, store.ErrNotFound},
		{"sqlite unique", errors.New("constraint failed: UNIQUE constraint failed: users.external_id (2067)"), store.ErrAlreadyExists},
		{"sqlite foreign key", errors.New("constraint failed: FOREIGN KEY constraint failed (787)"), store.ErrNotFound},
		{"canceled", context.Canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.fail(ctx, "op", tt.err); !errors.Is(got, tt.want) {
				t.Fatalf("fail(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	t.Run("driver errors become text", func(t *testing.T) {
		inner := &os.PathError{Op: "open", Path: "x", Err: os.ErrPermission}
		got := s.fail(ctx, "op", inner)
		var pe *os.PathError
		if errors.As(got, &pe) || !strings.Contains(got.Error(), "permission denied") {
			t.Fatalf("fail let the driver's error type through or lost its text: %v", got)
		}
	})
	if s.fail(ctx, "op", nil) != nil {
		t.Fatal("fail(nil) != nil")
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 100, 0: 100, 1: 1, 100: 100, 1000: 1000, 1001: 1000, 1 << 40: 1000} {
		if got := clampLimit(in); got != want {
			t.Errorf("clampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestOperationColumnsCoverTheRow: the hand-written column list of the
// one-statement swap names every column of operationRow but id and created_at,
// in the order values() returns them, so a new column cannot be left unwritten.
func TestOperationColumnsCoverTheRow(t *testing.T) {
	sch, err := schema.Parse(&operationRow{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range sch.Fields {
		if f.DBName != "id" && f.DBName != "created_at" {
			want = append(want, f.DBName)
		}
	}
	if strings.Join(operationColumns, ",") != strings.Join(want, ",") {
		t.Fatalf("operationColumns\n  %v\nwant (operationRow's order)\n  %v", operationColumns, want)
	}
	var r operationRow
	if n := len(r.values()); n != len(want) {
		t.Fatalf("values() has %d entries for %d columns", n, len(want))
	}
}

// TestSelectColumnsCoverTheRows: the hand-written reads select every column
// of their row structs, in field order, with one scan destination each.
func TestSelectColumnsCoverTheRows(t *testing.T) {
	for _, c := range []struct {
		row     any
		columns []string
		dests   int
	}{
		{&operationRow{}, operationSelect, len((&operationRow{}).dests())},
		{&credentialRow{}, credentialSelect, len((&credentialRow{}).dests())},
		{&applicationRow{}, applicationSelect, len((&applicationRow{}).dests())},
	} {
		sch, err := schema.Parse(c.row, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range sch.Fields {
			want = append(want, f.DBName)
		}
		if strings.Join(c.columns, ",") != strings.Join(want, ",") || c.dests != len(want) {
			t.Fatalf("%s: columns\n  %v (%d destinations)\nwant\n  %v", sch.Table, c.columns, c.dests, want)
		}
	}
}

func TestPGBind(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	q, args := pgNumber("UPDATE t SET a = ?, b = ? WHERE id = ? AND v = ?"), pgArgs([]any{"s", newTime(at), dbTime{}, int64(3)})
	if q != "UPDATE t SET a = $1, b = $2 WHERE id = $3 AND v = $4" {
		t.Fatalf("query %q", q)
	}
	if len(args) != 4 || args[0] != "s" || args[1] != utc(at) || args[2] != nil || args[3] != int64(3) {
		t.Fatalf("args %#v", args)
	}
}
