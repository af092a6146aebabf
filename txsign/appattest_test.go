package txsign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

const appID = "TEAMID1234.com.bank.example"

// appAttestKey stores a device key registered with App Attest: the device key signs the digest, the
// App Attest key (appAttestDER, PKIX) signs assertions of the app instance, starting above counter.
func appAttestKey(t *testing.T, st store.Store, userID string, appAttestDER []byte, counter int64) (store.Credential, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	data, _ := json.Marshal(devicekey.CredentialData{
		Assurance: attest.Assurance{Format: attest.FormatAppleAppAtt, UserVerification: attest.UVNotProven, AppID: appID, AppVerified: true},
		Attestation: &devicekey.StoredAttestation{Format: attest.FormatAppleAppAtt, KeyID: make([]byte, 32), Object: []byte{0xa0},
			AppAttestKey: appAttestDER, AppID: appID},
	})
	c := store.Credential{ID: uuid.NewString(), UserID: userID, Kind: store.KindDeviceKey, Status: store.StatusActive,
		MaxFailedAttempts: 5, PublicKey: der, LookupKey: uuid.NewString(), Data: data, Counter: counter}
	if err := st.CreateCredential(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestAppAttestAssertions (Apple, "Establishing your app's integrity", "Verify the assertion"): a device key
// registered with App Attest approves or rejects only with an assertion of the attested app instance over
// the signed message, whose counter is above the highest one seen; the counter seen is kept on approval and
// rejection alike. A missing or replayed assertion is a failure after possession was proven: it counts on
// the operation and on the credential.
func TestAppAttestAssertions(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{})
	u := newUser(t, clk, st)
	ctx := context.Background()
	app, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	appDER, _ := x509.MarshalPKIXPublicKey(&app.PublicKey)
	cred, device := appAttestKey(t, st, u.ID, appDER, 0)

	// attempt signs op's digest (or its rejection digest) with the device key, and asserts it with the
	// app's key at counter (no assertion when counter is 0).
	attempt := func(t *testing.T, op store.Operation, c store.Credential, d txsign.Decision, counter uint32) (txsign.Result, error) {
		msg := op.DL
		if d == txsign.Reject {
			r := txsign.RejectDigest([txsign.DigestSize]byte(op.DL))
			msg = r[:]
		}
		var assertion []byte
		if counter > 0 {
			h := sha256.Sum256(msg)
			var err error
			if assertion, err = attesttest.AppleAssertion(app, appID, h[:], counter); err != nil {
				t.Fatal(err)
			}
		}
		return svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: c.ID, Decision: d, Actor: "device",
			Verify: txsign.VerifyDeviceSignatureWith(ecdsaSign(device, msg), d, assertion)})
	}
	create := func(t *testing.T) store.Operation {
		op, _, err := svc.Create(ctx, "bank", payment(u.ID))
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	// refused checks a counted failure with its audited reason.
	refused := func(t *testing.T, op store.Operation, c store.Credential, err error, reason string, opFailed, credFailed int) {
		t.Helper()
		if !errors.Is(err, fault.ErrUnauthenticated) || errors.Is(err, txsign.ErrPossessionNotProven) {
			t.Fatalf("Decide = %v, want a counted 401", err)
		}
		if ev := lastAudit(t, st, op.ID); ev.Outcome != audit.Failure || !strings.HasPrefix(ev.Reason, reason) {
			t.Fatalf("audited %s %q, want failure %q", ev.Outcome, ev.Reason, reason)
		}
		got, _ := st.GetOperation(ctx, op.ID)
		now, _ := st.GetCredential(ctx, c.ID)
		if got.Status != store.OpPending || got.FailedAttempts != opFailed || now.FailedAttempts != credFailed {
			t.Fatalf("operation %s with %d failures, credential %d; want PENDING, %d, %d",
				got.Status, got.FailedAttempts, now.FailedAttempts, opFailed, credFailed)
		}
	}
	// decided checks an approval or rejection and the counter kept.
	decided := func(t *testing.T, res txsign.Result, err error, status store.OperationStatus, counter int64) {
		t.Helper()
		if err != nil || res.Operation.Status != status || (status == store.OpApproved) != (res.Token != "") {
			t.Fatalf("Decide = %s, token %q, %v; want %s", res.Operation.Status, res.Token, err, status)
		}
		if c, _ := st.GetCredential(ctx, cred.ID); c.Counter != counter {
			t.Fatalf("credential counter %d, want %d", c.Counter, counter)
		}
		var evidence struct {
			Extra struct {
				Assertion   string  `json:"app_assertion"`
				Counter     float64 `json:"app_assertion_counter"`
				Attestation *struct {
					Format string `json:"format"`
					AppID  string `json:"app_id"`
				} `json:"attestation"`
			} `json:"extra"`
		}
		// A dispute re-verifies the approval offline: the evidence carries the assertion, its counter and
		// the registration's attestation.
		ev := lastAudit(t, st, res.Operation.ID)
		if err := json.Unmarshal(ev.Evidence, &evidence); err != nil || evidence.Extra.Counter != float64(counter) ||
			evidence.Extra.Assertion == "" || evidence.Extra.Attestation == nil ||
			evidence.Extra.Attestation.Format != attest.FormatAppleAppAtt || evidence.Extra.Attestation.AppID != appID {
			t.Fatalf("audited evidence %s, want the assertion, its counter %d and the attestation", ev.Evidence, counter)
		}
	}

	first := create(t)
	_, err := attempt(t, first, cred, txsign.Approve, 0)
	refused(t, first, cred, err, "app_assertion is required: the key was registered with App Attest", 1, 1)
	res, err := attempt(t, first, cred, txsign.Approve, 7)
	decided(t, res, err, store.OpApproved, 7)

	second := create(t)
	_, err = attempt(t, second, cred, txsign.Approve, 7)
	refused(t, second, cred, err, "attestation refused (counter): counter 7 not above 7", 1, 1)
	res, err = attempt(t, second, cred, txsign.Reject, 9)
	decided(t, res, err, store.OpRejected, 9)

	third := create(t)
	_, err = attempt(t, third, cred, txsign.Approve, 8)
	refused(t, third, cred, err, "attestation refused (counter): counter 8 not above 9", 1, 1)
	res, err = attempt(t, third, cred, txsign.Approve, 10)
	decided(t, res, err, store.OpApproved, 10)

	t.Run("a stored counter beyond 32 bits refuses every assertion", func(t *testing.T) {
		corrupt, key := appAttestKey(t, st, u.ID, appDER, 1<<32+5)
		device = key
		op := create(t)
		_, err := attempt(t, op, corrupt, txsign.Approve, 7)
		refused(t, op, corrupt, err, "attestation refused (counter): counter 7 not above 4294967295", 1, 1)
	})
	t.Run("an unreadable App Attest key refuses every assertion", func(t *testing.T) {
		broken, key := appAttestKey(t, st, u.ID, []byte("not a key"), 0)
		device = key
		op := create(t)
		_, err := attempt(t, op, broken, txsign.Approve, 1)
		refused(t, op, broken, err, "stored App Attest key: ", 1, 1)
	})
	t.Run("an unattested key's evidence carries no attestation", func(t *testing.T) {
		plain, key := deviceKey(t, st, u.ID)
		op := create(t)
		res, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: plain.ID, Decision: txsign.Approve, Actor: "device",
			Verify: txsign.VerifyDeviceSignature(ecdsaSign(key, op.DL), txsign.Approve)})
		if err != nil || res.Operation.Status != store.OpApproved {
			t.Fatalf("Decide = %v", err)
		}
		var evidence struct {
			Extra map[string]json.RawMessage `json:"extra"`
		}
		ev := lastAudit(t, st, op.ID)
		if err := json.Unmarshal(ev.Evidence, &evidence); err != nil || evidence.Extra["assurance"] == nil || evidence.Extra["attestation"] != nil {
			t.Fatalf("audited evidence %s, want the assurance and no attestation", ev.Evidence)
		}
	})
}
