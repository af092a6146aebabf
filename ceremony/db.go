package ceremony

import (
	"context"
	"time"

	"github.com/signet-sca/signet/store"
)

// Rows is the part of store.Store DB keeps ceremonies in.
type Rows interface {
	CreateCeremony(ctx context.Context, c *store.Ceremony) error
	GetCeremony(ctx context.Context, id string) (store.Ceremony, error)
	ConsumeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error)
}

// DB keeps ceremonies in the store's ceremonies table: for PostgreSQL without Redis, where the
// database is all that replicas share. Its rows are deleted by the ceremony cleanup job with the
// enrollment links and sessions (webauthn.Service.Sweep).
type DB struct {
	rows Rows
	now  func() time.Time
}

// NewDB returns a DB on rows that consumes at now (time.Now when nil).
func NewDB(rows Rows, now func() time.Time) *DB {
	if now == nil {
		now = time.Now
	}
	return &DB{rows: rows, now: now}
}

// Put inserts c.
func (d *DB) Put(ctx context.Context, c store.Ceremony) error { return d.rows.CreateCeremony(ctx, &c) }

// Get reads ceremony id, consumed or expired or not.
func (d *DB) Get(ctx context.Context, id string) (store.Ceremony, error) {
	return d.rows.GetCeremony(ctx, id)
}

// Consume marks ceremony id used in one conditional UPDATE (store.Store.ConsumeCeremony): exactly
// one of concurrent calls, on any replica, succeeds.
func (d *DB) Consume(ctx context.Context, id string) error {
	_, err := d.rows.ConsumeCeremony(ctx, id, d.now().UTC())
	return err
}
