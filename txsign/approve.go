package txsign

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign/verify"
)

// Decision is what the user decided.
type Decision int

const (
	Approve Decision = iota
	Reject
)

func (d Decision) String() string {
	if d == Reject {
		return "reject"
	}
	return "approve"
}

// Evidence is what a factor verifier proved, recorded in the audit log so the
// approval can be re-verified later without the database.
type Evidence struct {
	Kind       store.CredentialKind `json:"kind"`
	Algorithm  string               `json:"alg"`
	Signed     string               `json:"signed"`     // base64url of the exact bytes signed
	Signature  string               `json:"signature"`  // base64url
	PublicKey  string               `json:"public_key"` // base64url (PKIX DER or COSE)
	Extra      map[string]any       `json:"extra,omitempty"`
	AMR        []string             `json:"amr"`
	DL         string               `json:"dl"`
	DLInputs   DLInput              `json:"dl_inputs"`
	Credential string               `json:"credential_id"`
	// Counter is not evidence: the signature counter a verified assertion
	// carried (WebAuthn L3 §6.1.1), or the PowerAuth counter after the
	// signature's, stored with the credential's use in the approval's own
	// statement. 0: nothing to store.
	Counter int64 `json:"-"`
	// Data is not evidence either: the credential's Data at Counter (the
	// PowerAuth activation's record with CTR_DATA at that position), stored
	// only when Counter is (store.CredentialUse.Data). nil: nothing to store.
	Data []byte `json:"-"`
	// PasscodeRight is not evidence either: the user whose reserved passcode
	// try the verifier found right, settled (failed tries reset) in the
	// approval's own statement (store.Alongside.PasscodeRight). "": none.
	PasscodeRight string `json:"-"`
}

// ErrPossessionNotProven classifies a failed attempt that proves nothing
// about the user: a signature that does not verify under the credential's
// stored public key (or was never checked), an assertion over another
// challenge, a credential of the wrong kind. Anyone who knows an operation id
// can send one, so it counts neither against the operation nor against the
// credential (otherwise forged attempts would fail the operation and block the
// credential: a lockout by anyone); it is audited with outcome
// audit.Unverified. Attempt.Verify wraps it: fmt.Errorf("%w: ...", ErrPossessionNotProven).
var ErrPossessionNotProven = errors.New("possession not proven")

// ErrNotChecked classifies an attempt whose factor was never checked because
// the request ended first (a client that gave up while the server queued the
// check): like ErrPossessionNotProven it counts nothing and is audited as
// unverified.
var ErrNotChecked = errors.New("factor not checked")

// Attempt is one signature attempt on an operation, verified by a factor.
type Attempt struct {
	OperationID  string
	CredentialID string
	Decision     Decision
	Actor        string // "device", "browser", "mobile"
	// Verify checks the factor against the stored operation and credential.
	// It returns the evidence on success. It must not write anything. A
	// failure is classified by what it wraps:
	//   - ErrPossessionNotProven: the signature does not verify (or was not
	//     checked); counts nothing, audited as unverified;
	//   - anything else: possession was proven and something after it failed
	//     (a wrong passcode behind a valid assertion, a wrong PowerAuth
	//     knowledge or biometry factor, signed data that differs): counts on
	//     the operation (FAILED at its maximum, PSD2 RTS Art. 4(3)(a)) and,
	//     unless PossessionOnly or it wraps ErrOperationOnly, on the credential.
	Verify func(op store.Operation, cred store.Credential) (Evidence, error)
	// Loaded, when set, is the operation and credential as the caller has
	// just read them (with what else it needed, in one statement): Decide
	// starts from them instead of reading them again. Expiry is applied as on
	// a read; every check and the exactly-once swap are the same.
	Loaded *Loaded
	// PossessionOnly: the factor proves possession alone (a PowerAuth
	// possession signature). Its failures never count against the credential
	// and its success does not reset the credential's failed attempts, so a
	// stolen phone cannot wipe its wrong-PIN count by rejecting an operation.
	PossessionOnly bool
}

// Loaded is an attempt's operation and credential read by the caller
// (Attempt.Loaded). Credential is zero when it does not exist.
type Loaded struct {
	Operation  store.Operation
	Credential store.Credential
}

// Result of a successful attempt.
type Result struct {
	Operation      store.Operation
	Token          string
	TokenExpiresAt time.Time
}

// ErrOperationOnly marks a failure, after possession was proven, that counts on the operation but not on the
// credential: a valid PowerAuth signature over operation data that differs from the stored data. The user's
// factors were right; what they signed was not this operation (Wultra's enrollment server verifies the
// signature first and counts only the operation's failure, MobileTokenController).
var ErrOperationOnly = errors.New("counts on the operation only")

// errSignature is the cause recorded when a device signature does not verify.
var errSignature = fmt.Errorf("%w: signature does not verify", ErrPossessionNotProven)

// errUnverified is the public answer to an unverified attempt: the same 401
// as every authentication failure (its message is never shown), which the
// HTTP layer can still tell apart (errors.Is ErrPossessionNotProven), e.g. to
// rate limit forged attempts.
var errUnverified = fmt.Errorf("%w (%w)", fault.ErrUnauthenticated, ErrPossessionNotProven)

// Decide runs one attempt through the single approval path shared by every
// factor kind: load the operation and credential, check that the credential
// may sign, verify, then compare-and-swap PENDING → APPROVED (or REJECTED)
// exactly once and mint the transaction token. Every attempt is audited.
// Failures the caller can fix (operation state) are 409/410; everything about
// the credential or the signature is one uniform authentication failure.
func (s *Service) Decide(ctx context.Context, a Attempt) (Result, error) {
	ev := audit.Event{Type: "operation." + a.Decision.String(), Actor: a.Actor, OperationID: a.OperationID, CredentialID: a.CredentialID}
	record := func(outcome, reason string, evidence any, public error) (Result, error) {
		ev.Outcome, ev.Reason, ev.Evidence = outcome, reason, evidence
		if err := s.audit.Record(ctx, ev); err != nil {
			return Result{}, err
		}
		return Result{}, public
	}
	fail := func(reason string, evidence any, public error) (Result, error) {
		return record(audit.Failure, reason, evidence, public)
	}
	// Refusals before anything was verified count nothing: audited as
	// unverified attempts.
	unverified := func(reason string, evidence any, public error) (Result, error) {
		return record(audit.Unverified, reason, evidence, public)
	}
	op, cred, err := s.load(ctx, a)
	if err != nil {
		// An unknown operation is not audited (errNoOperation): it names nothing real.
		return Result{}, err
	}
	ev.UserID = op.UserID
	switch {
	case op.Status != store.OpPending:
		return unverified("operation is "+string(op.Status), nil, stateError(op))
	case !store.ValidID(a.CredentialID):
		return unverified("malformed credential id", nil, errUnverified)
	case cred.ID == "":
		return unverified("unknown credential", nil, errUnverified)
	}
	switch {
	case cred.UserID != op.UserID:
		return unverified("credential belongs to another user", map[string]any{"credential_user": cred.UserID}, errUnverified)
	case cred.Status != store.StatusActive:
		return unverified("credential is "+string(cred.Status), nil, errUnverified)
	case !FactorAllowed(op, cred.Kind):
		return unverified("factor "+string(cred.Kind)+" not allowed for this operation", nil,
			fault.New(fault.ErrForbidden, "this operation does not accept %s credentials", cred.Kind))
	case cred.Kind == store.KindDeviceKey && s.requiresAttestation(op.Type) && !devicekey.DecodeData(cred.Data).Assurance.Attested():
		return unverified("device key without attestation, required for operation type "+op.Type, nil,
			fault.New(fault.ErrForbidden, "operations of type %q need a device key registered with a platform attestation", op.Type))
	case ClaimedBy(op) != "" && ClaimedBy(op) != cred.ID:
		// Claimed from a QR code or deep link by another credential of the user (Claim): only that one decides.
		return unverified("operation claimed by another credential", map[string]any{"claimed_by": ClaimedBy(op)}, ErrClaimedByOther)
	}
	// Defence in depth: the stored digest must still match the stored inputs.
	dl := ComputeDL(dlInput(op))
	if subtle.ConstantTimeCompare(dl[:], op.DL) != 1 {
		return fail("stored dynamic-linking digest does not match the stored operation", nil,
			fault.New(fault.ErrConflict, "operation integrity check failed"))
	}
	evidence, verr := a.Verify(op, cred)
	if errors.Is(verr, ErrPossessionNotProven) || errors.Is(verr, ErrNotChecked) {
		// Nothing about the user is proven: count nothing (issue 13 item 2).
		return unverified(verr.Error(), evidence, errUnverified)
	}
	if verr != nil {
		public := error(fault.ErrUnauthenticated)
		if err := s.countFailure(ctx, op, cred, !a.PossessionOnly && !errors.Is(verr, ErrOperationOnly)); err != nil {
			// A failure that cannot be counted must not go unanswered as an
			// ordinary 401 either: the attempt limit depends on it (fail closed).
			public = err
		}
		return fail(verr.Error(), evidence, public)
	}
	evidence.DL, evidence.DLInputs, evidence.Credential, evidence.Kind = EncodeDigest(dl), dlInput(op), cred.ID, cred.Kind
	res, err := s.finish(ctx, op, cred, a.Decision, evidence, ev, !a.PossessionOnly)
	if err != nil {
		if errors.Is(err, fault.ErrConflict) || errors.Is(err, fault.ErrGone) {
			return fail("lost the race: "+err.Error(), evidence, err)
		}
		return Result{}, err
	}
	return res, nil
}

// load is the attempt's operation (expiry applied) and credential: as the
// caller read them (Attempt.Loaded), or read here.
func (s *Service) load(ctx context.Context, a Attempt) (store.Operation, store.Credential, error) {
	if a.Loaded == nil {
		return s.getWithCredential(ctx, a.OperationID, a.CredentialID)
	}
	op, cred := a.Loaded.Operation, a.Loaded.Credential
	if op.ID != a.OperationID || cred.ID != a.CredentialID {
		return store.Operation{}, store.Credential{}, errors.New("txsign: the loaded operation or credential is not the attempt's")
	}
	op, err := s.expireIfDue(ctx, op)
	return op, cred, err
}

// countFailure counts a failed signature on the operation (FAILED at the
// maximum, PSD2 RTS Art. 4(3)(a)) and, when asked, on the credential
// (BLOCKED with MAX_FAILED_ATTEMPTS at its maximum). A record that is no
// longer countable (the operation left PENDING, the credential ACTIVE) is not
// an error; a store failure is.
func (s *Service) countFailure(ctx context.Context, op store.Operation, cred store.Credential, credential bool) error {
	now := s.cfg.Now().UTC()
	op, err := s.store.UpdateOperationFrom(ctx, op, func(o *store.Operation) error {
		if o.Status != store.OpPending {
			return errUnchanged
		}
		o.FailedAttempts++
		if o.FailedAttempts >= o.MaxFailedAttempts {
			o.Status = store.OpFailed
		}
		o.UpdatedAt = now
		return nil
	})
	switch {
	case err == nil && op.Status == store.OpFailed:
		s.notify(ctx, op)
	case err != nil && !errors.Is(err, errUnchanged):
		return err
	}
	if !credential {
		return nil
	}
	_, err = s.store.UpdateCredentialFrom(ctx, cred, func(c *store.Credential) error {
		if c.Status != store.StatusActive {
			return errUnchanged
		}
		c.RecordFailure(now)
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	return nil
}

// finish records the token id, then moves the operation out of PENDING by
// compare-and-swap, in one transaction with the success audit event and the
// credential's use: an approval is never committed without its audit record.
// The JTI goes to the replay store first: if that fails the operation stays
// PENDING (fail closed, the user may retry); if the swap loses, the recorded
// JTI belongs to a token nobody received and simply expires.
//
// resetFailures says whether this success resets the credential's failed
// attempts: only factors whose failures count may reset them (PowerAuth: a
// possession-only signature neither counts nor resets knowledge failures, or a
// stolen phone could wipe its wrong-PIN count by rejecting an operation).
func (s *Service) finish(ctx context.Context, op store.Operation, cred store.Credential, d Decision, evidence Evidence, ev audit.Event, resetFailures bool) (Result, error) {
	now := s.cfg.Now().UTC()
	var token, jti string
	var exp time.Time
	if d == Approve {
		var err error
		token, jti, exp, err = s.mint(ctx, op, evidence.AMR, now)
		if err != nil {
			return Result{}, err
		}
		// A verifier accepts the token until exp plus its leeway (at most verify.MaxLeeway, RFC 7519 §4.1.4),
		// so the id is kept that long, and a second for clock skew between replicas and the store: gone
		// earlier, a token every other check accepts would be answered "already used".
		if err := s.replay.Record(ctx, jti, exp.Sub(now)+verify.MaxLeeway+time.Second); err != nil {
			return Result{}, fault.Wrap(fault.ErrUnavailable, err, "replay store")
		}
	}
	ev.Outcome, ev.Evidence = audit.Success, evidence
	rec, err := s.audit.Prepare(ev)
	if err != nil {
		return Result{}, err
	}
	also := store.Alongside{Audit: rec, CredentialUse: store.CredentialUse{ID: cred.ID, At: now, ResetFailures: resetFailures,
		Counter: evidence.Counter, Data: evidence.Data}, PasscodeRight: evidence.PasscodeRight}
	updated, err := s.store.UpdateOperationWith(ctx, op, also, func(o *store.Operation) error {
		if o.Status != store.OpPending {
			return stateError(*o)
		}
		if !now.Before(o.ExpiresAt) {
			return fault.New(fault.ErrGone, "the operation expired")
		}
		o.ApprovedCredentialID = cred.ID
		o.ApprovedAt = &now
		o.UpdatedAt = now
		if d == Reject {
			o.Status = store.OpRejected
			return nil
		}
		o.Status = store.OpApproved
		o.Token, o.TokenJTI, o.TokenExpiresAt = token, jti, &exp
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if n, ok := evidence.Extra["app_assertion_counter"].(uint32); ok {
		// App Attest (Apple, "Verify the assertion" step 5): keep the highest counter seen. The
		// assertion is over this operation's digest, so it cannot serve another operation even
		// before this write lands; the counter tells a cloned app instance.
		if _, err := s.store.UpdateCredentialFrom(ctx, cred, func(c *store.Credential) error {
			c.Counter = max(c.Counter, int64(n))
			return nil
		}); err != nil {
			return Result{}, err
		}
	}
	s.notify(ctx, updated)
	return Result{Operation: updated, Token: token, TokenExpiresAt: exp}, nil
}

// requiresAttestation: the bank requires an attested device key for operations of this type
// (Config.AttestedDeviceKeyTypes; "*" for every type).
func (s *Service) requiresAttestation(opType string) bool {
	for _, t := range s.cfg.AttestedDeviceKeyTypes {
		if t == "*" || t == opType {
			return true
		}
	}
	return false
}

// VerifyDeviceSignature returns the Verify function of a device-key attempt:
// ECDSA P-256 / SHA-256 (ASN.1 DER signature) over the 32 DL bytes, or over
// SHA-256("signet-reject-v1" ‖ DL) to reject (docs/dynamic-linking.md).
// The evidence's amr is what the key's registration attestation proved
// (attest.Assurance.AMR: "hwk", plus "fpt" or "pin" when the secure hardware
// gates every signature on that authenticator), and its extra carries the
// assurance and the attestation itself, so a dispute can re-check both offline.
func VerifyDeviceSignature(sig []byte, d Decision) func(store.Operation, store.Credential) (Evidence, error) {
	return VerifyDeviceSignatureWith(sig, d, nil)
}

// VerifyDeviceSignatureWith is VerifyDeviceSignature with an App Attest assertion (CBOR, the
// app's DCAppAttestService.generateAssertion over SHA-256 of the signed message): required when
// the key was registered with apple-appattest, it proves the same genuine app instance signs,
// with a counter above the last one seen (recorded by RecordAppAttestCounter).
func VerifyDeviceSignatureWith(sig []byte, d Decision, appAssertion []byte) func(store.Operation, store.Credential) (Evidence, error) {
	return func(op store.Operation, cred store.Credential) (Evidence, error) {
		msg := op.DL
		if d == Reject {
			var dl [DigestSize]byte
			copy(dl[:], op.DL)
			r := RejectDigest(dl)
			msg = r[:]
		}
		data := devicekey.DecodeData(cred.Data)
		ev := Evidence{Algorithm: "ES256", Signed: b64(msg), Signature: b64(sig), PublicKey: b64(cred.PublicKey), AMR: data.Assurance.AMR()}
		ev.Extra = map[string]any{"assurance": data.Assurance}
		if data.Attestation != nil {
			ev.Extra["attestation"] = data.Attestation
		}
		if cred.Kind != store.KindDeviceKey {
			return ev, fmt.Errorf("%w: credential is not a device key", ErrPossessionNotProven)
		}
		pub, err := ParseDeviceKey(cred.PublicKey)
		if err != nil {
			return ev, fmt.Errorf("%w: stored device key: %v", ErrPossessionNotProven, err)
		}
		h := sha256.Sum256(msg)
		// An ECDSA signature that does not verify proves nothing about the
		// user: it counts against nothing (issue 13 item 2).
		if !ecdsa.VerifyASN1(pub, h[:], sig) {
			return ev, errSignature
		}
		if a := data.Attestation; a != nil && a.Format == attest.FormatAppleAppAtt {
			// Possession is proven; an App Attest assertion missing or wrong is a failure that counts.
			if len(appAssertion) == 0 {
				return ev, errors.New("app_assertion is required: the key was registered with App Attest")
			}
			k, err := ParseDeviceKey(a.AppAttestKey)
			if err != nil {
				return ev, fmt.Errorf("stored App Attest key: %v", err)
			}
			last := uint32(min(max(cred.Counter, 0), 1<<32-1))
			n, err := attest.VerifyAppAssertion(appAssertion, k, a.AppID, h[:], last)
			if err != nil {
				return ev, err
			}
			ev.Extra["app_assertion"], ev.Extra["app_assertion_counter"] = b64(appAssertion), n
		}
		return ev, nil
	}
}

// ParseDeviceKey parses a stored PKIX P-256 public key.
func ParseDeviceKey(der []byte) (*ecdsa.PublicKey, error) {
	pk, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := pk.(*ecdsa.PublicKey)
	if !ok || ec.Curve.Params().Name != "P-256" {
		return nil, errors.New("not a P-256 key")
	}
	return ec, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newJTI() string {
	b := make([]byte, 16) // 128-bit random (ARCHITECTURE.md)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// acrFor names the assurance: two or more independent factor categories is
// SCA (PSD2 RTS Art. 4); otherwise a single factor.
func acrFor(amr []string) string {
	// One table of RFC 8176 methods and PSD2 RTS Art. 4 categories, txsign/verify's, so that what is minted
	// and what gateways derive from amr can never disagree ("user", a presence test, counts for nothing).
	if (&verify.Claims{AMR: amr}).Assurance() == verify.ACRSCA {
		return verify.ACRSCA
	}
	return verify.ACR1FA
}
