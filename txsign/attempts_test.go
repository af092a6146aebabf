package txsign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

func deviceKey(t *testing.T, st store.Store, userID string) (store.Credential, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	c := store.Credential{ID: uuid.NewString(), UserID: userID, Kind: store.KindDeviceKey, Status: store.StatusActive,
		MaxFailedAttempts: 5, PublicKey: der, LookupKey: uuid.NewString()}
	if err := st.CreateCredential(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c, key
}

func ecdsaSign(key *ecdsa.PrivateKey, msg []byte) []byte {
	h := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	return sig
}

// TestUnverifiedAttemptsCountNothing (issue 13 item 2) at the service layer: attempts that prove nothing
// about the user (a device signature that does not verify, another user's valid signature, an unknown
// credential, any Verify failure wrapping ErrPossessionNotProven) neither count on the operation nor on
// the credential, and are audited as unverified; a failure after possession is proven still counts.
func TestUnverifiedAttemptsCountNothing(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, _ := approvalFixture(t, clk, st)
	ctx := context.Background()
	cred, key := deviceKey(t, st, u.ID)
	mallory := store.User{ID: uuid.NewString(), ExternalID: "mallory", CreatedAt: clk.now()}
	if err := st.CreateUser(ctx, &mallory); err != nil {
		t.Fatal(err)
	}
	malloryCred, malloryKey := deviceKey(t, st, mallory.ID)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	device := func(sig []byte) func(store.Operation, store.Credential) (txsign.Evidence, error) {
		return txsign.VerifyDeviceSignature(sig, txsign.Approve)
	}
	forgeries := []struct {
		name   string
		credID string
		verify func(store.Operation, store.Credential) (txsign.Evidence, error)
		reason string
	}{
		{"the device's key over other bytes", cred.ID, device(ecdsaSign(key, []byte("not the DL"))), "possession not proven: signature does not verify"},
		{"another key over the DL", cred.ID, device(ecdsaSign(stranger, op.DL)), "possession not proven: signature does not verify"},
		{"garbage", cred.ID, device([]byte("0123456789abcdef")), "possession not proven: signature does not verify"},
		{"another user's valid signature", malloryCred.ID, device(ecdsaSign(malloryKey, op.DL)), "credential belongs to another user"},
		{"unknown credential", uuid.NewString(), device(ecdsaSign(key, op.DL)), "unknown credential"},
		{"any factor's unproven possession", cred.ID, func(store.Operation, store.Credential) (txsign.Evidence, error) {
			return txsign.Evidence{}, fmt.Errorf("%w: assertion does not verify", txsign.ErrPossessionNotProven)
		}, "possession not proven: assertion does not verify"},
	}
	for i := range 20 {
		f := forgeries[i%len(forgeries)]
		_, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: f.credID, Decision: txsign.Approve,
			Actor: "device", Verify: f.verify})
		if !errors.Is(err, fault.ErrUnauthenticated) || !errors.Is(err, txsign.ErrPossessionNotProven) {
			t.Fatalf("%s: %v, want an unverified 401", f.name, err)
		}
		evs, _, _ := st.ListAudit(ctx, store.AuditFilter{OperationID: op.ID, Limit: 1000})
		if last := evs[len(evs)-1]; last.Outcome != "unverified" || last.Reason != f.reason {
			t.Fatalf("%s: audited %s %q, want unverified %q", f.name, last.Outcome, last.Reason, f.reason)
		}
	}
	got, _ := st.GetOperation(ctx, op.ID)
	c, _ := st.GetCredential(ctx, cred.ID)
	if got.Status != store.OpPending || got.FailedAttempts != 0 || c.Status != store.StatusActive || c.FailedAttempts != 0 {
		t.Fatalf("after forgeries: operation %s/%d, credential %s/%d, want PENDING/0 and ACTIVE/0",
			got.Status, got.FailedAttempts, c.Status, c.FailedAttempts)
	}

	t.Run("a failure after possession is proven counts", func(t *testing.T) {
		for _, tc := range []struct {
			name           string
			possessionOnly bool
			opFailed       int
			credFailed     int
		}{
			{"wrong knowledge factor", false, 1, 1},
			{"possession-only factor: the operation only", true, 2, 1},
		} {
			_, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
				PossessionOnly: tc.possessionOnly, Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) {
					return txsign.Evidence{}, errors.New("passcode does not match")
				}})
			if !errors.Is(err, fault.ErrUnauthenticated) || errors.Is(err, txsign.ErrPossessionNotProven) {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got, _ := st.GetOperation(ctx, op.ID)
			c, _ := st.GetCredential(ctx, cred.ID)
			evs, _, _ := st.ListAudit(ctx, store.AuditFilter{OperationID: op.ID, Limit: 1000})
			if last := evs[len(evs)-1]; last.Outcome != "failure" || got.FailedAttempts != tc.opFailed || c.FailedAttempts != tc.credFailed {
				t.Fatalf("%s: audited %s, operation %d, credential %d failures, want failure, %d, %d",
					tc.name, last.Outcome, got.FailedAttempts, c.FailedAttempts, tc.opFailed, tc.credFailed)
			}
		}
	})
	t.Run("the genuine device approves", func(t *testing.T) {
		res, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
			Actor: "device", Verify: device(ecdsaSign(key, op.DL))})
		if err != nil || res.Operation.Status != store.OpApproved || res.Token == "" {
			t.Fatalf("genuine approval: %v", err)
		}
	})
}

// TestDecideFromLoaded: an attempt that brings its operation and credential (Attempt.Loaded) is decided
// from them, as read, without reading either again, and one whose loaded records are not the attempt's is
// refused before anything is verified or written.
func TestDecideFromLoaded(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, _ := approvalFixture(t, clk, st)
	ctx := context.Background()
	cred, key := deviceKey(t, st, u.ID)
	other, _ := deviceKey(t, st, u.ID)
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	verified := false
	attempt := func(loaded txsign.Loaded) txsign.Attempt {
		return txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve, Actor: "device", Loaded: &loaded,
			Verify: func(o store.Operation, c store.Credential) (txsign.Evidence, error) {
				verified = true
				return txsign.VerifyDeviceSignature(ecdsaSign(key, o.DL), txsign.Approve)(o, c)
			}}
	}
	if _, err := svc.Decide(ctx, attempt(txsign.Loaded{Operation: op, Credential: other})); err == nil || verified {
		t.Fatalf("Decide with another credential loaded = %v (verified %v), want a refusal before verifying", err, verified)
	}
	res, err := svc.Decide(ctx, attempt(txsign.Loaded{Operation: op, Credential: cred}))
	if err != nil || res.Operation.Status != store.OpApproved {
		t.Fatalf("Decide from the loaded records = %+v, %v", res.Operation.Status, err)
	}
}
