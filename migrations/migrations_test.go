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
