package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/internal/benchutil"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// BenchmarkDeviceKeyApproval is one device-key approval end to end over HTTP:
// the bank creates the operation, the device fetches the signing data,
// recomputes DL, signs and approves, and gets the token back. Reported as a
// ratio to one raw ECDSA P-256 verification.
func BenchmarkDeviceKeyApproval(b *testing.B) {
	dbs := map[string]string{"sqlite": ""}
	if _, ok := sqltest.Postgres(b); ok {
		dbs["postgres"] = sqltest.NewPostgresSchema(b)
	}
	for name, url := range dbs {
		b.Run(name, func(b *testing.B) {
			h := newHarnessWith(b, harnessOpts{databaseURL: url})
			uid := h.createUser("bench-" + uuid.NewString())
			d := h.newDevice(uid)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				op := h.createOp(uid, "100", "EUR", nil)
				dl := h.signingData(op.ID, d)
				if r := h.approve(op.ID, d, sign(d.key, dl[:])); r.status != 200 {
					b.Fatalf("approve: %d %s", r.status, r.body)
				}
			}
			benchutil.Report(b, map[string]func() float64{"ecdsa-verify": func() float64 {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				dg := sha256.Sum256([]byte("dl"))
				sig, _ := ecdsa.SignASN1(rand.Reader, k, dg[:])
				return benchutil.Raw(b, 300, func() { ecdsa.VerifyASN1(&k.PublicKey, dg[:], sig) })
			}})
		})
	}
}
