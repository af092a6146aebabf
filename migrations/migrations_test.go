package migrations

import (
	"io/fs"
	"strings"
	"testing"
)

func TestUnknownDialect(t *testing.T) {
	for _, d := range []string{"", "mysql", "SQLite", "postgresql"} {
		if _, err := FS(d); err == nil {
			t.Errorf("FS(%q) succeeded", d)
		}
		if _, err := List(d); err == nil {
			t.Errorf("List(%q) succeeded", d)
		}
		if _, err := Bootstrap(d); err == nil {
			t.Errorf("Bootstrap(%q) succeeded", d)
		}
	}
}

// TestDialectsInStep: every migration exists for both dialects under the
// same name, in ascending order, starting at 0001_init.
func TestDialectsInStep(t *testing.T) {
	lite, err := List(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := List(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || lite[0].Name != "0001_init" || lite[0].Version != "0001" {
		t.Fatalf("first SQLite migration: %+v", lite)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Name != pg[i].Name || lite[i].Version != pg[i].Version {
			t.Errorf("migration %d: sqlite %s, postgres %s", i, lite[i].Name, pg[i].Name)
		}
		if i > 0 && lite[i].Version <= lite[i-1].Version {
			t.Errorf("versions out of order: %s after %s", lite[i].Version, lite[i-1].Version)
		}
		if strings.TrimSpace(lite[i].SQL) == "" || strings.TrimSpace(pg[i].SQL) == "" {
			t.Errorf("migration %s is empty", lite[i].Name)
		}
	}
}

func TestBootstrap(t *testing.T) {
	for _, d := range []string{SQLite, Postgres} {
		sql, err := Bootstrap(d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sql, "CREATE TABLE IF NOT EXISTS schema_migrations") {
			t.Errorf("%s bootstrap: %q", d, sql)
		}
		fsys, _ := FS(d)
		if _, err := fs.Stat(fsys, "0001_init.sql"); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}

// TestNoTransaction: only PostgreSQL's 0003 (CREATE INDEX CONCURRENTLY) runs
// outside a transaction, as two statements that can both run again.
func TestNoTransaction(t *testing.T) {
	for _, d := range []string{SQLite, Postgres} {
		list, err := List(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			want := d == Postgres && m.Version == "0003"
			if m.NoTransaction != want {
				t.Errorf("%s %s: NoTransaction %v, want %v", d, m.Name, m.NoTransaction, want)
			}
			if !m.NoTransaction && strings.Contains(strings.ToUpper(m.SQL), "CONCURRENTLY") {
				t.Errorf("%s %s: CONCURRENTLY inside a transaction", d, m.Name)
			}
			if m.NoTransaction {
				got := m.Statements()
				if len(got) != 2 || !strings.HasPrefix(got[0], "DROP INDEX CONCURRENTLY IF EXISTS outbox_events_created_at_idx") ||
					!strings.HasPrefix(got[1], "CREATE INDEX CONCURRENTLY outbox_events_created_at_idx") {
					t.Errorf("%s %s: statements %q", d, m.Name, got)
				}
			}
		}
	}
}

func TestStatements(t *testing.T) {
	m := Migration{SQL: "-- signet:no-transaction\n-- a comment; with a semicolon\nCREATE INDEX a\n  ON t (x);\n\nDROP INDEX b;\nSELECT 1"}
	got := m.Statements()
	want := []string{"CREATE INDEX a\n  ON t (x);", "DROP INDEX b;", "SELECT 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Statements() = %q, want %q", got, want)
	}
}
