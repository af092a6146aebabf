// Package migrations holds Signet's hand-written SQL schema, one folder per
// dialect (sqlite, postgres), embedded in the binary. store/sqlstore applies
// them in order, one transaction each, recorded in schema_migrations.
//
// A migration whose first line is "-- signet:no-transaction" runs outside a
// transaction, one statement at a time (a statement ends with a line ending
// in ";"): PostgreSQL refuses CREATE INDEX CONCURRENTLY in a transaction.
// Only the PostgreSQL runner honours it; SQLite runs every migration in one.
// Each of its statements must be safe to run again, since a failure part-way
// leaves the earlier ones applied and the migration unrecorded.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Dialects with a migration folder.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// bootstrapFile creates schema_migrations; it is not a numbered migration
// because the runner needs the table before it can tell what is applied.
const bootstrapFile = "schema_migrations.sql"

// migrationName is NNNN_description.sql; NNNN is the version.
var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// noTransaction is the first line of a migration that must run outside a transaction.
const noTransaction = "-- signet:no-transaction"

// Migration is one numbered schema change.
type Migration struct {
	Version string // "0001": the key recorded in schema_migrations
	Name    string // "0001_init": the file name without .sql
	SQL     string
	// NoTransaction: run Statements one by one, outside a transaction.
	NoTransaction bool
}

// Statements splits SQL into its statements: each ends with a line ending
// in ";". Comment lines ("--") are dropped. Only for NoTransaction
// migrations, whose statements must be sent one at a time.
func (m Migration) Statements() []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(m.SQL) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// FS returns the migration files of dialect ("sqlite" or "postgres").
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case SQLite, Postgres:
		return fs.Sub(files, dialect)
	}
	return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
}

// Bootstrap returns the statement creating schema_migrations (version,
// applied_at) if it does not exist yet.
func Bootstrap(dialect string) (string, error) {
	fsys, err := FS(dialect)
	if err != nil {
		return "", err
	}
	b, err := fs.ReadFile(fsys, bootstrapFile)
	if err != nil {
		return "", fmt.Errorf("migrations: %s: %w", dialect, err)
	}
	return string(b), nil
}

// List returns the numbered migrations of dialect in ascending version order.
// Every file other than the bootstrap must be named NNNN_description.sql and
// versions must be unique.
func List(dialect string) ([]Migration, error) {
	fsys, err := FS(dialect)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %s: %w", dialect, err)
	}
	var out []Migration
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == bootstrapFile {
			continue
		}
		m := migrationName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migrations: %s: bad file name %q (want NNNN_description.sql)", dialect, name)
		}
		if prev, dup := seen[m[1]]; dup {
			return nil, fmt.Errorf("migrations: %s: version %s used by %q and %q", dialect, m[1], prev, name)
		}
		seen[m[1]] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: %w", dialect, err)
		}
		out = append(out, Migration{Version: m[1], Name: name[:len(name)-len(path.Ext(name))], SQL: string(b),
			NoTransaction: strings.HasPrefix(string(b), noTransaction+"\n")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
