package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/store"
)

// Reads by primary key of the records every approval touches go through
// database/sql with a fixed column list and explicit scan destinations: read
// through gorm they were 29 % of Signet's CPU in the device-key flow, a third
// of that gorm's reflective scan (docs/performance.md). The column
// lists follow the row structs' field order (TestSelectColumnsCoverTheRows).

var (
	operationSelect = []string{"id", "user_id", "type", "payee_account", "payee_name", "amount", "currency", "text",
		"nonce", "dl", "status", "factors", "callback_url", "idempotency_key", "failed_attempts", "max_failed_attempts",
		"data", "approved_credential_id", "approved_at", "token_jti", "token", "token_expires_at", "expires_at",
		"created_at", "updated_at", "version"}
	credentialSelect = []string{"id", "user_id", "kind", "status", "block_reason", "failed_attempts",
		"max_failed_attempts", "label", "lookup_key", "public_key", "counter", "device", "data", "secret", "created_at",
		"activated_at", "last_used_at", "removed_at", "expires_at", "version"}
)

func (r *operationRow) dests() []any {
	return []any{&r.ID, &r.UserID, &r.Type, &r.PayeeAccount, &r.PayeeName, &r.Amount, &r.Currency, &r.Text,
		&r.Nonce, &r.DL, &r.Status, &r.Factors, &r.CallbackURL, &r.IdempotencyKey, &r.FailedAttempts, &r.MaxFailedAttempts,
		&r.Data, &r.ApprovedCredentialID, &r.ApprovedAt, &r.TokenJTI, &r.Token, &r.TokenExpiresAt, &r.ExpiresAt,
		&r.CreatedAt, &r.UpdatedAt, &r.Version}
}

func (r *credentialRow) dests() []any {
	return []any{&r.ID, &r.UserID, &r.Kind, &r.Status, &r.BlockReason, &r.FailedAttempts,
		&r.MaxFailedAttempts, &r.Label, &r.LookupKey, &r.PublicKey, &r.Counter, &r.Device, &r.Data, &r.Secret, &r.CreatedAt,
		&r.ActivatedAt, &r.LastUsedAt, &r.RemovedAt, &r.ExpiresAt, &r.Version}
}

// byIDQuery is SELECT columns FROM table WHERE id = <the dialect's first placeholder>.
func byIDQuery(dialect, table string, columns []string) string {
	ph := "?"
	if dialect == DialectPostgres {
		ph = "$1"
	}
	return "SELECT " + strings.Join(columns, ", ") + " FROM " + table + " WHERE id = " + ph
}

// readByID scans the row with id into dests, or reports store.ErrNotFound.
func (s *Store) readByID(ctx context.Context, op, query, id string, dests []any) error {
	err := s.sql.QueryRowContext(ctx, query, id).Scan(dests...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	return s.fail(ctx, op, err)
}

// GetOperation returns the operation with id, or store.ErrNotFound.
func (s *Store) GetOperation(ctx context.Context, id string) (store.Operation, error) {
	var r operationRow
	if err := s.readByID(ctx, "get operation", s.queries.operationByID, id, r.dests()); err != nil {
		return store.Operation{}, err
	}
	return r.record(), nil
}

// GetCredential returns the credential with id, or store.ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	var r credentialRow
	if err := s.readByID(ctx, "get credential", s.queries.credentialByID, id, r.dests()); err != nil {
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
	err := s.sql.QueryRowContext(ctx, s.queries.operationWithCredential, opID, credID).Scan(append(o.dests(), c.dests()...)...)
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

// outerCredentialColumns are credentialSelect of the credentials table
// outer-joined as alias: the join's NULLs for a missing credential are
// coalesced where the column is NOT NULL.
func outerCredentialColumns(alias string) []string {
	cols := make([]string, 0, len(credentialSelect))
	for _, c := range credentialSelect {
		switch c {
		case "id", "user_id", "kind", "status", "block_reason", "label", "lookup_key":
			cols = append(cols, "coalesce("+alias+"."+c+", '')")
		case "failed_attempts", "max_failed_attempts", "counter", "version":
			cols = append(cols, "coalesce("+alias+"."+c+", 0)")
		default: // bytes and times: nil and NULL already
			cols = append(cols, alias+"."+c)
		}
	}
	return cols
}

// queries are the hand-written statements, in the store's dialect.
type queries struct {
	operationByID, credentialByID, operationWithCredential string
}

func newQueries(dialect string) queries {
	first, second := "?1", "?2" // numbered: the credential's comes first in the text
	if dialect == DialectPostgres {
		first, second = "$1", "$2"
	}
	cols := make([]string, 0, len(operationSelect)+len(credentialSelect))
	for _, c := range operationSelect {
		cols = append(cols, "o."+c)
	}
	cols = append(cols, outerCredentialColumns("c")...)
	return queries{
		operationByID:  byIDQuery(dialect, "operations", operationSelect),
		credentialByID: byIDQuery(dialect, "credentials", credentialSelect),
		operationWithCredential: "SELECT " + strings.Join(cols, ", ") +
			" FROM operations o LEFT JOIN credentials c ON c.id = " + second + " WHERE o.id = " + first,
	}
}
