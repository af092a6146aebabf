package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/store"
)

// Reads by primary key of the records every approval touches bypass gorm:
// database/sql with the columns and scan destinations of the tables'
// declarations (table.go). Read through gorm they were 29 % of Signet's CPU in
// the device-key flow, a third of that gorm's reflective scan (measured in
// session 3, commit fe9b7a3 of docs/performance.md).

// dests are the scan destinations of every column of t, into r.
func dests[R any](t *table[R], r *R) []any {
	return t.appendDests(make([]any, 0, len(t.columns)), r)
}

// byIDQuery is SELECT every column FROM t WHERE id = <the dialect's first placeholder>.
func byIDQuery[R any](dialect string, t *table[R]) string {
	ph := "?"
	if dialect == DialectPostgres {
		ph = "$1"
	}
	return "SELECT " + t.list("", t.all()) + " FROM " + t.name + " WHERE id = " + ph
}

// readByID scans the row with id into dst, or reports store.ErrNotFound.
func (s *Store) readByID(ctx context.Context, op, query, id string, dst []any) error {
	err := s.sql.QueryRowContext(ctx, query, id).Scan(dst...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	return s.fail(ctx, op, err)
}

// GetOperation returns the operation with id, or store.ErrNotFound.
func (s *Store) GetOperation(ctx context.Context, id string) (store.Operation, error) {
	var r operationRow
	if err := s.readByID(ctx, "get operation", s.queries.operationByID, id, dests(&operationsTable, &r)); err != nil {
		return store.Operation{}, err
	}
	return r.record(), nil
}

// GetCredential returns the credential with id, or store.ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	var r credentialRow
	if err := s.readByID(ctx, "get credential", s.queries.credentialByID, id, dests(&credentialsTable, &r)); err != nil {
		return store.Credential{}, err
	}
	return r.record(), nil
}

// GetOperationWithCredential reads an operation and a credential in one
// round trip (a left join on the credential's id). ErrNotFound means no such
// operation; a missing credential comes back as a zero Credential.
func (s *Store) GetOperationWithCredential(ctx context.Context, opID, credID string) (store.Operation, store.Credential, error) {
	const op = "get operation with credential"
	var o operationRow
	var c credentialRow
	dst := operationsTable.appendDests(make([]any, 0, len(operationsTable.columns)+len(credentialsTable.columns)), &o)
	err := s.sql.QueryRowContext(ctx, s.queries.operationWithCredential, opID, credID).Scan(credentialsTable.appendDests(dst, &c)...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Operation{}, store.Credential{}, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.Operation{}, store.Credential{}, s.fail(ctx, op, err)
	}
	if c.ID == "" {
		return o.record(), store.Credential{}, nil
	}
	return o.record(), c.record(), nil
}

// outerColumns are t's columns outer-joined as alias: the join's NULLs for a
// missing row are coalesced to the column's zero value where the column is
// NOT NULL (table.zero).
func outerColumns[R any](t *table[R], alias string) []string {
	cols := make([]string, 0, len(t.columns))
	for i, c := range t.columns {
		if zero := t.zero[i]; zero != "" {
			cols = append(cols, "coalesce("+alias+"."+c+", "+zero+")")
		} else {
			cols = append(cols, alias+"."+c)
		}
	}
	return cols
}

// outerCredentialColumns are outerColumns of the credentials table.
func outerCredentialColumns(alias string) []string { return outerColumns(&credentialsTable, alias) }

// queries are the hand-written statements, in the store's dialect.
type queries struct {
	operationByID, credentialByID, operationWithCredential string
}

func newQueries(dialect string) queries {
	first, second := "?1", "?2" // numbered: the credential's comes first in the text
	if dialect == DialectPostgres {
		first, second = "$1", "$2"
	}
	cols := append([]string{operationsTable.list("o.", operationsTable.all())}, outerCredentialColumns("c")...)
	return queries{
		operationByID:  byIDQuery(dialect, &operationsTable),
		credentialByID: byIDQuery(dialect, &credentialsTable),
		operationWithCredential: "SELECT " + strings.Join(cols, ", ") +
			" FROM operations o LEFT JOIN credentials c ON c.id = " + second + " WHERE o.id = " + first,
	}
}
