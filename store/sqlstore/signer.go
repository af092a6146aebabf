package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/store"
)

// credentialWithApplication is GetCredentialWithApplication's query: SQLite's and PostgreSQL's placeholders.
var credentialWithApplication = func() (q [2]string) {
	cols := append([]string{credentialsTable.list("c.", credentialsTable.all())}, outerColumns(&applicationsTable, "a")...)
	for i, ph := range [2][2]string{{"?1", "?2"}, {"$1", "$2"}} {
		q[i] = "SELECT " + strings.Join(cols, ", ") + " FROM credentials c LEFT JOIN applications a ON a.app_key = " +
			ph[1] + " WHERE c.id = " + ph[0]
	}
	return q
}()

// GetCredentialWithApplication reads a credential and the application with
// appKey in one round trip (a left join on the unique app_key): every
// PowerAuth signed request reads the activation and the application its
// header names. ErrNotFound means no such credential; no application with
// appKey comes back as a zero Application.
func (s *Store) GetCredentialWithApplication(ctx context.Context, credID, appKey string) (store.Credential, store.Application, error) {
	const op = "get credential with application"
	q := credentialWithApplication[0]
	if s.dialect == DialectPostgres {
		q = credentialWithApplication[1]
	}
	var c credentialRow
	var a applicationRow
	dst := credentialsTable.appendDests(make([]any, 0, len(credentialsTable.columns)+len(applicationsTable.columns)), &c)
	err := s.sql.QueryRowContext(ctx, q, credID, appKey).Scan(applicationsTable.appendDests(dst, &a)...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Credential{}, store.Application{}, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.Credential{}, store.Application{}, s.fail(ctx, op, err)
	}
	if a.ID == "" {
		return c.record(), store.Application{}, nil
	}
	return c.record(), a.record(), nil
}
