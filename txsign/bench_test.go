package txsign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/internal/benchutil"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign/replay"
)

// BenchmarkMint is the cost of minting one transaction token (the user read,
// claims, ES256 signature), as a ratio to a raw ES256 signature.
func BenchmarkMint(b *testing.B) {
	ctx := context.Background()
	st := sqltest.OpenSQLite(b)
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{3}, 32)})
	keys := NewKeyring(st, ring, KeyringConfig{})
	if err := keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	svc := NewService(st, audit.New(st, nil, nil), keys, replay.NewMemory(nil), Config{Issuer: "https://signet.example", Audience: "payments"})
	u := store.User{ID: uuid.NewString(), ExternalID: "bench", CreatedAt: time.Now()}
	if err := st.CreateUser(ctx, &u); err != nil {
		b.Fatal(err)
	}
	op, _, err := svc.Create(ctx, "bench", NewOperation{UserID: u.ID, Type: "payment", PayeeAccount: "DE89370400440532013000",
		PayeeName: "ACME GmbH", Amount: "100", Currency: "EUR"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := svc.mint(ctx, op, []string{"hwk"}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	benchutil.Report(b, map[string]func() float64{"es256-sign": func() float64 { return rawSign(b) }})
}

// rawSign is one ES256 (P-256 ECDSA over SHA-256) signature.
func rawSign(b *testing.B) float64 {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return benchutil.Raw(b, 300, func() {
		d := sha256.Sum256([]byte("header.payload"))
		_, _ = ecdsa.SignASN1(rand.Reader, k, d[:])
	})
}
