package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// TestWithClock: a record created without a time is stamped from the store's clock, in UTC to
// the microsecond; one created with a time keeps it.
func TestWithClock(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	st := sqltest.OpenSQLite(t, sqlstore.WithClock(func() time.Time { return at }))
	ctx := context.Background()
	given := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		created time.Time
		want    time.Time
	}{
		{"no time: the clock's", time.Time{}, at.UTC().Truncate(time.Microsecond)},
		{"a time: kept", given, given},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := store.User{ExternalID: "cust-" + tt.name, CreatedAt: tt.created}
			if err := st.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.CreatedAt.Equal(tt.want) || got.CreatedAt.Location() != time.UTC {
				t.Fatalf("CreatedAt %s; want %s UTC", got.CreatedAt, tt.want)
			}
		})
	}
}
