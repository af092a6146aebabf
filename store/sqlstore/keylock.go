package sqlstore

import (
	"context"

	"gorm.io/gorm"
)

// signingKeysLock is the PostgreSQL advisory lock that serialises setting up the signing keys,
// one per schema.
const signingKeysLock = `hashtext('signet.signing-keys.' || coalesce(current_schema(), ''))`

// WithSigningKeysLock runs fn while no other caller runs it: another replica on the same
// PostgreSQL database, or another keyring of this process. Replicas starting together on an
// empty database would otherwise each see no active key and each create one
// (txsign.Keyring.Ensure). PostgreSQL: a transaction-scoped advisory lock, waited for and held
// while fn runs on the pool's other connections; SQLite (one process): the mutex alone.
func (s *Store) WithSigningKeysLock(ctx context.Context, fn func(context.Context) error) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.dialect != DialectPostgres {
		return fn(ctx)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(` + signingKeysLock + `)`).Error; err != nil {
			return s.fail(ctx, "lock signing keys", err)
		}
		return fn(ctx)
	})
}
