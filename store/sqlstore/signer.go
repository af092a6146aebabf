package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/store"
)

// applicationSelect follows applicationRow's field order (TestSelectColumnsCoverTheRows).
var applicationSelect = []string{"id", "name", "app_key", "app_secret", "master_private_key", "master_public_key",
	"status", "recovery_enabled", "postcard_private_key", "postcard_public_key", "printer_public_key", "created_at",
	"version"}

func (r *applicationRow) dests() []any {
	return []any{&r.ID, &r.Name, &r.AppKey, &r.AppSecret, &r.MasterPrivateKey, &r.MasterPublicKey,
		&r.Status, &r.RecoveryEnabled, &r.PostcardPrivate, &r.PostcardPublic, &r.PrinterPublic, &r.CreatedAt,
		&r.Version}
}

// credentialWithApplication is GetCredentialWithApplication's query: SQLite's and PostgreSQL's placeholders.
var credentialWithApplication = func() (q [2]string) {
	cols := make([]string, 0, len(credentialSelect)+len(applicationSelect))
	for _, c := range credentialSelect {
		cols = append(cols, "c."+c)
	}
	for _, c := range applicationSelect {
		// The join's NULLs for a missing application, where the column is NOT NULL.
		switch c {
		case "id", "name", "app_key", "app_secret", "status":
			cols = append(cols, "coalesce(a."+c+", '')")
		case "recovery_enabled":
			cols = append(cols, "coalesce(a."+c+", false)")
		case "version":
			cols = append(cols, "coalesce(a."+c+", 0)")
		default: // bytes and times: nil and NULL already
			cols = append(cols, "a."+c)
		}
	}
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
	err := s.sql.QueryRowContext(ctx, q, credID, appKey).Scan(append(c.dests(), a.dests()...)...)
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
