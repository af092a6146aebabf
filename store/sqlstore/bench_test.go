package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// BenchmarkOperationPath is the store's share of an approval: the by-id reads
// that bypass gorm and the operation's swap with the credential use and the
// audit event (one statement on PostgreSQL), on each dialect.
func BenchmarkOperationPath(b *testing.B) {
	stores := map[string]func(testing.TB, ...sqlstore.Option) *sqlstore.Store{"sqlite": sqltest.OpenSQLite}
	if _, ok := sqltest.Postgres(b); ok {
		stores["postgres"] = sqltest.OpenPostgres
	}
	for name, open := range stores {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b)
			u := store.User{ExternalID: "bench"}
			if err := s.CreateUser(ctx, &u); err != nil {
				b.Fatal(err)
			}
			c := store.Credential{UserID: u.ID, Kind: store.KindDeviceKey, Status: store.StatusActive,
				PublicKey: []byte("public key"), Data: []byte(`{"k":"v"}`)}
			if err := s.CreateCredential(ctx, &c); err != nil {
				b.Fatal(err)
			}
			o := store.Operation{UserID: u.ID, Type: "payment", PayeeAccount: "DE89370400440532013000", PayeeName: "Payee",
				Amount: "10000", Currency: "EUR", Nonce: "nonce", DL: make([]byte, 32), Status: store.OpPending,
				MaxFailedAttempts: 5, ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.CreateOperation(ctx, &o); err != nil {
				b.Fatal(err)
			}
			b.Run("GetOperation", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.GetOperation(ctx, o.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("GetOperationWithCredential", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := s.GetOperationWithCredential(ctx, o.ID, c.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("UpdateOperationWith", func(b *testing.B) {
				cur, err := s.GetOperation(ctx, o.ID)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					also := store.Alongside{CredentialUse: store.CredentialUse{ID: c.ID, ResetFailures: true},
						Audit: &store.AuditEvent{Type: "operation.approve", Outcome: "success", UserID: u.ID, OperationID: o.ID}}
					if cur, err = s.UpdateOperationWith(ctx, cur, also, func(o *store.Operation) error {
						o.FailedAttempts = (o.FailedAttempts + 1) % 3
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
