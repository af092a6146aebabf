package txsign_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

// configuredService is an operation service on st configured by cfg, on clk's time, with a keyring
// ready to sign.
func configuredService(t *testing.T, clk *clock, st store.Store, cfg txsign.Config) *txsign.Service {
	t.Helper()
	cfg.Now = clk.now
	return txsign.NewService(st, audit.New(st, clk.now, nil), testKeyring(t, clk, st), replay.NewMemory(clk.now), cfg)
}

// testKeyring is a keyring on st, on clk's time, with a signing key ready.
func testKeyring(t *testing.T, clk *clock, st store.Store) *txsign.Keyring {
	t.Helper()
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{5}, 32)})
	keys := txsign.NewKeyring(st, ring, txsign.KeyringConfig{Now: clk.now})
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return keys
}

// newUser stores a user.
func newUser(t *testing.T, clk *clock, st store.Store) store.User {
	t.Helper()
	u := store.User{ID: uuid.NewString(), ExternalID: "u-" + uuid.NewString(), CreatedAt: clk.now()}
	if err := st.CreateUser(context.Background(), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// verified is a factor check that passes, proving amr.
func verified(amr ...string) func(store.Operation, store.Credential) (txsign.Evidence, error) {
	return func(store.Operation, store.Credential) (txsign.Evidence, error) {
		return txsign.Evidence{AMR: amr}, nil
	}
}

// decide runs an attempt of cred on op whose factor check passes (proving hwk).
func decide(t *testing.T, svc *txsign.Service, op store.Operation, cred store.Credential, d txsign.Decision) txsign.Result {
	t.Helper()
	res, err := svc.Decide(context.Background(), txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: d,
		Actor: "device", Verify: verified("hwk")})
	if err != nil {
		t.Fatalf("%s %s: %v", d, op.ID, err)
	}
	return res
}

// auditOf returns the audit events of an operation, oldest first.
func auditOf(t *testing.T, st store.Store, opID string) []store.AuditEvent {
	t.Helper()
	evs, _, err := st.ListAudit(context.Background(), store.AuditFilter{OperationID: opID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// lastAudit returns the latest audit event of an operation.
func lastAudit(t *testing.T, st store.Store, opID string) store.AuditEvent {
	t.Helper()
	evs := auditOf(t, st, opID)
	if len(evs) == 0 {
		t.Fatalf("operation %s has no audit event", opID)
	}
	return evs[len(evs)-1]
}
