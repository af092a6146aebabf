package webauthn

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

var (
	errNoPasscode = fault.New(fault.ErrConflict, "no passcode is set; enroll first")
	errNoPasskey  = fault.New(fault.ErrConflict, "no active passkey; enroll a passkey first")
	errLocked     = fault.New(fault.ErrLocked, "the passcode is locked after too many wrong tries; ask your bank to unlock it")
)

// Operation returns an operation as stored (expiry applied), for display.
func (s *Service) Operation(ctx context.Context, id string) (store.Operation, error) {
	return s.ops.Get(ctx, id)
}

// ChallengeNonceSize is the length of the random part of an approval
// challenge.
const ChallengeNonceSize = 16

// ChallengeSize is the length of an approval challenge: the digest and the
// ceremony's random part.
const ChallengeSize = txsign.DigestSize + ChallengeNonceSize

// Digest is what an approval (or rejection) of op binds to: the
// dynamic-linking digest itself to approve, SHA-256("signet-reject-v1" ‖ DL)
// to reject (docs/dynamic-linking.md), so an approval assertion can never be
// replayed as a rejection or the other way round.
func Digest(op store.Operation, d txsign.Decision) []byte {
	if d == txsign.Reject {
		var dl [txsign.DigestSize]byte
		copy(dl[:], op.DL)
		r := txsign.RejectDigest(dl)
		return r[:]
	}
	return append([]byte(nil), op.DL...)
}

// Challenge returns the WebAuthn challenge of one ceremony deciding op:
// Digest(op, d) ‖ nonce, where nonce is the ceremony's 16 random bytes
// (docs/dynamic-linking.md §3). The digest binds the assertion to the
// operation; the nonce to this ceremony only, so an assertion captured in one
// ceremony (or kept in the audit log) never verifies in a later one, even from
// an authenticator whose signature counter stays 0 (WebAuthn L3 §13.4.3:
// challenges are random and used once).
func Challenge(op store.Operation, d txsign.Decision, nonce []byte) []byte {
	return append(Digest(op, d), nonce...)
}

func opStateError(op store.Operation) error {
	if op.Status == store.OpExpired {
		return fault.New(fault.ErrGone, "the operation expired")
	}
	return fault.New(fault.ErrConflict, "the operation is %s", op.Status)
}

// BeginApproval starts approving (or rejecting) an operation with a passkey:
// the WebAuthn challenge is the operation's DL (or its reject digest)
// followed by 16 random bytes of this ceremony,
// allowCredentials the user's ACTIVE passkeys, and for an approval the HPKE
// parameters for the passcode, bound to this ceremony.
func (s *Service) BeginApproval(ctx context.Context, opID string, d txsign.Decision) (AssertionOptions, error) {
	ap, err := s.readApproval(ctx, opID, nil)
	if err != nil {
		return AssertionOptions{}, err
	}
	op, err := s.ops.ExpireIfDue(ctx, ap.Operation)
	if err != nil {
		return AssertionOptions{}, err
	}
	if op.Status != store.OpPending {
		return AssertionOptions{}, opStateError(op)
	}
	if !txsign.FactorAllowed(op, store.KindPasskey) {
		return AssertionOptions{}, fault.New(fault.ErrForbidden, "this operation does not accept passkeys")
	}
	u := ap.User
	if d == txsign.Approve {
		if len(u.PasscodeVerifier) == 0 {
			return AssertionOptions{}, errNoPasscode
		}
		if u.PasscodeLocked {
			return AssertionOptions{}, errLocked
		}
	}
	var creds []store.Credential
	for _, c := range ap.Passkeys {
		if c.Status == store.StatusActive {
			creds = append(creds, c)
		}
	}
	if len(creds) == 0 {
		return AssertionOptions{}, errNoPasskey
	}
	nonce := make([]byte, ChallengeNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return AssertionOptions{}, err
	}
	challenge := Challenge(op, d, nonce)
	uv := s.uv
	only := s.passkeyOnlyCreds(op, d, creds)
	if len(only) > 0 {
		// A passkey alone: only the allowed models, and user verification required.
		creds, uv = only, protocol.VerificationRequired
	}
	assertion, sd, err := s.wa.BeginLogin(newWAUser(u, creds), gowebauthn.WithChallenge(challenge),
		gowebauthn.WithUserVerification(uv))
	if err != nil {
		return AssertionOptions{}, fmt.Errorf("begin login: %w", err)
	}
	_, kid, err := s.currentPasscodeKey()
	if err != nil {
		return AssertionOptions{}, err
	}
	spc := s.spcOffer(op, d, challenge, creds)
	cd := ceremonyData{Session: *sd, KEKID: kekIDString(kid), Decision: d.String()}
	if spc != nil {
		cd.SPC = &spc.Instrument
	}
	cd.PasskeyOnly = len(only) > 0
	cer, err := s.createCeremony(ctx, kindApproval, u.ID, op.ID, cd)
	if err != nil {
		return AssertionOptions{}, err
	}
	out := AssertionOptions{CeremonyID: cer.ID, PublicKey: assertion, SPC: spc, PasscodeOptional: cd.PasskeyOnly,
		ExpiresAt: cer.ExpiresAt.Format(time.RFC3339)}
	if d == txsign.Approve {
		if out.HPKE, err = s.hpkeParams(cer.ID, kid, challenge, FieldPasscode); err != nil {
			return AssertionOptions{}, err
		}
	}
	return out, nil
}

// readApproval is the store's ReadApproval (the operation, its user and the
// user's passkeys in one statement, and the passcode try reserve charges); an
// operation that does not exist is answered as the operation service answers
// it (not audited, counted by the server).
func (s *Service) readApproval(ctx context.Context, opID string, reserve *store.PasscodeReservation) (store.Approval, error) {
	if !store.ValidID(opID) {
		return store.Approval{}, fault.Invalid("id", "is not a valid identifier")
	}
	ap, err := s.store.ReadApproval(ctx, opID, reserve)
	if errors.Is(err, store.ErrNotFound) {
		_, gerr := s.ops.Get(ctx, opID)
		return store.Approval{}, cmp.Or(gerr, err)
	}
	return ap, err
}

// ApprovalResult finishes an approval ceremony.
type ApprovalResult struct {
	CeremonyID string
	Credential []byte // PublicKeyCredential.toJSON()
	Passcode   []byte // HPKE envelope JSON; required to approve, ignored to reject
}

type passcodeOutcome int

const (
	passcodeUnchecked passcodeOutcome = iota
	passcodeWrong
	passcodeRight
)

// FinishApproval verifies the passkey assertion and, to approve, the
// passcode, inside the one exactly-once approval path (txsign Decide): the
// expected challenge's digest is recomputed there from the stored operation,
// never taken from the client, its random part is the ceremony's, and the
// ceremony is consumed (compare-and-swap) before anything is verified, so an
// assertion is accepted in one ceremony at most once.
//
// Refusals before the assertion verifies are audited as unverified and count
// nothing; a wrong passcode behind a valid assertion counts (issue 13 item 2).
func (s *Service) FinishApproval(ctx context.Context, opID string, in ApprovalResult) (txsign.Result, error) {
	parsed, err := parseAssertion(in.Credential)
	if err != nil {
		return txsign.Result{}, err
	}
	ev := audit.Event{Type: "operation.approve", Actor: "browser", OperationID: opID}
	// Every refusal here comes before the assertion is verified: it proves
	// nothing, counts nothing and is audited as unverified.
	fail := func(reason string, public error) (txsign.Result, error) {
		ev.Outcome, ev.Reason = audit.Unverified, reason
		if err := s.audit.Record(ctx, ev); err != nil {
			return txsign.Result{}, err
		}
		return txsign.Result{}, public
	}
	cer, d, err := s.loadCeremony(ctx, in.CeremonyID, kindApproval, "", opID)
	if errors.Is(err, errNoCeremony) {
		return txsign.Result{}, err // names nothing real: not audited, counted by the server
	} else if errors.Is(err, errCeremony) {
		return fail("unknown, expired or used approval ceremony", err)
	} else if err != nil {
		return txsign.Result{}, err
	}
	decision := txsign.Approve
	if d.Decision == txsign.Reject.String() {
		decision = txsign.Reject
		ev.Type = "operation.reject"
	}
	ev.UserID = cer.UserID
	var env Envelope
	// A passkey alone approves when the ceremony allowed it and no passcode
	// came; a passcode that came is checked as always.
	passkeyOnly := decision == txsign.Approve && d.PasskeyOnly && len(in.Passcode) == 0
	withPasscode := decision == txsign.Approve && !passkeyOnly
	if withPasscode {
		if env, err = ParseEnvelope(in.Passcode); err != nil {
			return txsign.Result{}, err
		}
	}
	kid, err := parseKEKID(d.KEKID)
	if err != nil {
		return txsign.Result{}, err
	}
	if decision == txsign.Approve {
		// Load shedding before anything changes: past the hashing queue the
		// answer is 503 with Retry-After and the same ceremony can be
		// finished again.
		leave, err := s.gate.Admit()
		if err != nil {
			return txsign.Result{}, err
		}
		defer leave()
	}
	if err := s.consume(ctx, cer.ID); err != nil {
		return fail("approval ceremony replayed or expired", err)
	}
	// The operation, the user and the user's passkeys in one statement, which
	// also charges the passcode try to approve with one before anything is
	// checked (store.PasscodeReservation: as reservePasscodeTry, so concurrent
	// attempts never get more checks than tries are left).
	key := lookupKey(parsed.RawID)
	var reserve *store.PasscodeReservation
	if withPasscode {
		reserve = &store.PasscodeReservation{LookupKey: key, Max: s.cfg.PasscodeMaxFailures, At: s.cfg.Now().UTC()}
	}
	ap, err := s.readApproval(ctx, opID, reserve)
	if err != nil {
		return txsign.Result{}, err
	}
	u, creds := ap.User, ap.Passkeys
	// The passkey is almost always one of the user's own (read with them, no
	// second query); otherwise it is looked up by its id, to refuse another
	// user's credential for what it is.
	cred := ownPasskeyByID(creds, key)
	own := cred.ID != ""
	if !own {
		if cred, err = s.credentialFor(ctx, parsed); err != nil {
			return txsign.Result{}, err
		}
	}
	if cred.ID == "" {
		return fail("unknown passkey "+key, fault.ErrUnauthenticated)
	}
	if withPasscode && !ap.Reserved {
		if err := s.unreserved(u, own && ap.Operation.Status == store.OpPending); err != nil {
			return fail(err.Error(), err)
		}
		// Another user's passkey, or an operation no longer pending: Decide
		// refuses it before any passcode is checked, and no try is held.
	}
	check := &approvalCheck{s: s, parsed: parsed, user: u, creds: creds, ceremony: cer, data: d, decision: decision,
		kid: kid, env: env, passkeyOnly: passkeyOnly}
	// The sequence, each step's error handled:
	//  1. Decide runs check.verify once, inside the exactly-once approval path, and commits the decision
	//     (or the refusal, counted and audited); a right passcode's try is settled (failures reset) in the
	//     decision's own statement (txsign.Evidence.PasscodeRight);
	//  2. otherwise the passcode try reserved above is settled from what verify found (right, wrong, never
	//     checked), and an outdated verifier behind an approval is rehashed; a request that ended while
	//     queued for a hashing slot stops here (txsign.ErrNotChecked);
	//  3. a verified or clone-suspected assertion updates its passkey (sign counter unless the decision
	//     stored it, backup state, block).
	// A settlement or passkey update that fails is returned with the decision's own error: its write's
	// outcome is unknown (an outage answers 503 even after an approval was committed; the retry learns
	// the operation's state), and a lost lock or counter must not pass unnoticed.
	res, derr := s.ops.Decide(ctx, txsign.Attempt{OperationID: opID, CredentialID: cred.ID, Decision: decision,
		Actor: "browser", Loaded: &txsign.Loaded{Operation: ap.Operation, Credential: cred},
		Verify: func(op store.Operation, c store.Credential) (txsign.Evidence, error) {
			return check.verify(ctx, op, c)
		}})
	var serr, aerr error
	if ap.Reserved && (derr != nil || check.rehash) {
		// Settled on a context that outlives the request: a try reserved by a
		// request that ended while queued for a hashing slot is still refunded.
		// An approval settled its right try itself; only a rehash is left.
		serr = s.settlePasscode(context.WithoutCancel(ctx), ap.User, check.outcome, check.passcode, check.rehash)
	}
	if check.notChecked {
		// The request ended before its passcode was checked: nothing counted
		// (audited unverified), the try was refunded above, and the passkey is
		// left as it was. A refund that failed is reported with the request's end.
		end := ctx.Err()
		if end == nil { // not expected: only a request that ended leaves the queue
			end = derr
		}
		return txsign.Result{}, errors.Join(end, serr)
	}
	if check.assertionOK || check.v.clone {
		// A decision stored the signature counter with the credential's use
		// already (txsign.Evidence.Counter): only the backup state or a clone
		// block is left to write.
		aerr = s.afterAssertion(ctx, "browser", cred, parsed, check.v, check.assertionOK, derr == nil)
	}
	if err := errors.Join(derr, serr, aerr); err != nil {
		return txsign.Result{}, err
	}
	return res, nil
}

// approvalCheck is FinishApproval's verification: its inputs, and what verify found, which FinishApproval
// reads once Decide has returned (to settle the passcode try and update the passkey).
type approvalCheck struct {
	s        *Service
	parsed   *protocol.ParsedCredentialAssertionData
	user     store.User
	creds    []store.Credential
	ceremony store.Ceremony
	data     ceremonyData
	decision txsign.Decision
	kid      [4]byte
	env      Envelope
	// passkeyOnly: approve without the passcode (policy.go).
	passkeyOnly bool

	// Results, reset by each verify.
	v           verified
	assertionOK bool            // the passkey assertion verified
	outcome     passcodeOutcome // the reserved passcode try: unchecked, wrong or right
	rehash      bool            // the verifier's parameters are outdated: rehash the right passcode
	passcode    Passcode        // the right passcode, for the rehash
	notChecked  bool            // the request ended while waiting for a hashing slot (txsign.ErrNotChecked)
}

// verify is the txsign Verify callback: possession (the passkey assertion over the expected challenge),
// then, to approve, knowledge (the passcode), whose Argon2id waits for a hashing slot while ctx lasts.
func (a *approvalCheck) verify(ctx context.Context, op store.Operation, c store.Credential) (txsign.Evidence, error) {
	a.v, a.assertionOK, a.outcome, a.rehash, a.passcode, a.notChecked = verified{}, false, passcodeUnchecked, false, nil, false
	signed, sig, extra := assertionEvidence(a.parsed, c)
	evidence := txsign.Evidence{Algorithm: coseAlgorithm(c.PublicKey), Signed: b64(signed), Signature: b64(sig),
		PublicKey: b64(c.PublicKey), Extra: extra}
	possession := "hwk"
	if a.parsed.Response.AuthenticatorData.Flags.HasBackupEligible() {
		possession = "swk" // a synced passkey is a software key (RFC 8176 §2)
	}
	evidence.AMR = []string{possession}
	if c.Kind != store.KindPasskey {
		return evidence, fmt.Errorf("%w: credential is not a passkey", txsign.ErrPossessionNotProven)
	}
	// The expected challenge: the digest recomputed from the stored
	// operation, never taken from the client, and the random part of
	// the ceremony this server issued (consumed above, so used once).
	expected, err := expectedChallenge(op, a.decision, a.data.Session)
	if err != nil {
		return evidence, err
	}
	parsed := a.parsed
	var payment *collectedPaymentData
	if isSPCAssertion(parsed) {
		// SPC "Verifying an Authentication Assertion": type payment.get, only
		// in a ceremony that offered SPC; the WebAuthn L3 §7.2 steps as for any
		// assertion, then the payment member against the operation.
		if a.data.SPC == nil {
			return evidence, fmt.Errorf("%w: %v", txsign.ErrPossessionNotProven, errSPCNotOffered)
		}
		var p collectedPaymentData
		if parsed, p, err = spcAssertion(parsed); err != nil {
			return evidence, err
		}
		payment = &p
	}
	if a.v, err = a.s.verifyAssertion(a.user, a.creds, a.data.Session, expected, parsed); err != nil {
		if a.v.credential == nil {
			// The assertion's signature was not verified (or did not
			// verify): nothing about the user is proven, nothing counts.
			return evidence, fmt.Errorf("%w: %v", txsign.ErrPossessionNotProven, err)
		}
		return evidence, err
	}
	a.assertionOK = true
	evidence.Counter = int64(a.parsed.Response.AuthenticatorData.Counter)
	if payment != nil {
		// A signed confirmation of something other than the operation: the
		// page or the browser was tampered with. It counts as a failed attempt.
		if !a.v.uv {
			return evidence, errors.New("secure payment confirmation without user verification")
		}
		shown, err := a.s.checkSPC(op, *a.data.SPC, *payment)
		if err != nil {
			return evidence, err
		}
		extra["spc"] = shown
	}
	// What this ceremony asked of the authenticator (WebAuthn L3 §5.4.6): a passkey-only approval always
	// required user verification, whatever the service's default.
	extra["uv_required"] = a.data.Session.UserVerification == protocol.VerificationRequired
	if a.decision == txsign.Reject {
		return evidence, nil
	}
	if a.passkeyOnly {
		// The operation type's policy: the passkey's own user verification
		// stands in for the passcode (issue 18 §2).
		m, err := a.s.passkeyOnlyFactor(op, c, a.v.uv)
		if err != nil {
			return evidence, err
		}
		extra["passcode"] = "not required for operation type " + op.Type
		extra["user_verification"] = map[string]any{"aaguid": m.AAGUID, "model": m.Name, "status": m.Status, "amr": m.Method}
		evidence.AMR = append(evidence.AMR, m.Method, "mfa")
		return evidence, nil
	}
	// Knowledge factor, checked only once possession is proven, so
	// passcodes cannot be guessed without the passkey; a wrong one
	// counts on the operation, the passkey and the passcode lock.
	var perr error
	a.outcome, a.rehash, a.passcode, perr = a.s.checkPasscodeGated(ctx, a.user, a.kid, PasscodeInfo(a.ceremony.ID, expected, FieldPasscode), a.env)
	if perr != nil {
		a.notChecked = errors.Is(perr, txsign.ErrNotChecked)
		return evidence, perr
	}
	extra["passcode"] = "verified (HPKE, Argon2id)"
	evidence.AMR = append(evidence.AMR, "pin", "mfa")
	evidence.PasscodeRight = a.user.ID // the reserved try, settled with the approval
	return evidence, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// expectedChallenge is the challenge an approval ceremony must have been
// issued with: Digest(op, d) recomputed from the stored operation, followed by
// the ceremony's own random part. A ceremony whose stored challenge is not
// 48 bytes (one begun by an older version) cannot be finished: start again.
func expectedChallenge(op store.Operation, d txsign.Decision, sd gowebauthn.SessionData) ([]byte, error) {
	stored, err := base64.RawURLEncoding.DecodeString(sd.Challenge)
	if err != nil || len(stored) != ChallengeSize {
		return nil, fmt.Errorf("%w: the ceremony's challenge is not digest ‖ 16 random bytes", txsign.ErrPossessionNotProven)
	}
	return Challenge(op, d, stored[txsign.DigestSize:]), nil
}

// unreserved is why a passcode try was not reserved
// (store.PasscodeReservation), from the user as read: no passcode, or locked
// (or out of tries). pendingOwn: the operation was PENDING and the passkey the
// user's own, so the one reason left is a concurrent attempt that took the
// last try meanwhile (locked). nil: the reservation was not for the user to
// refuse (another user's passkey, an operation no longer pending).
func (s *Service) unreserved(u store.User, pendingOwn bool) error {
	switch {
	case len(u.PasscodeVerifier) == 0:
		return errNoPasscode
	case u.PasscodeLocked || u.PasscodeFailed >= s.cfg.PasscodeMaxFailures, pendingOwn:
		return errLocked
	}
	return nil
}

// checkPasscode decrypts a passcode envelope made for info and matches it
// against u's verifier. The outcome says whether a try was spent: a
// ciphertext that does not open for this ceremony counts as a wrong passcode.
func (s *Service) checkPasscode(u store.User, kekID [4]byte, info []byte, env Envelope) (passcodeOutcome, bool, Passcode, error) {
	pt, err := s.openPasscode(kekID, info, env)
	if err != nil {
		return passcodeWrong, false, nil, err
	}
	p, err := ParsePasscode(pt)
	if err != nil {
		return passcodeWrong, false, nil, errors.New("passcode: malformed plaintext")
	}
	ok, rehash, err := s.matchVerifier(u.PasscodeVerifier, p)
	switch {
	case err != nil:
		return passcodeUnchecked, false, nil, err
	case !ok:
		return passcodeWrong, false, nil, errors.New("passcode does not match")
	}
	return passcodeRight, rehash, p, nil
}

// checkPasscodeGated is checkPasscode whose Argon2id waits for a hashing
// slot (Argon2Gate) after the envelope opened: the slot covers the hash alone.
// A request that ends while waiting leaves the queue; its passcode was not
// checked (txsign.ErrNotChecked: nothing counts).
func (s *Service) checkPasscodeGated(ctx context.Context, u store.User, kekID [4]byte, info []byte, env Envelope) (passcodeOutcome, bool, Passcode, error) {
	pt, err := s.openPasscode(kekID, info, env)
	if err != nil {
		return passcodeWrong, false, nil, err
	}
	p, err := ParsePasscode(pt)
	if err != nil {
		return passcodeWrong, false, nil, errors.New("passcode: malformed plaintext")
	}
	free, err := s.gate.acquire(ctx)
	if err != nil {
		return passcodeUnchecked, false, nil, fmt.Errorf("%w: the request ended while waiting to check the passcode: %w", txsign.ErrNotChecked, err)
	}
	ok, rehash, err := s.matchVerifier(u.PasscodeVerifier, p)
	free()
	switch {
	case err != nil:
		return passcodeUnchecked, false, nil, err
	case !ok:
		return passcodeWrong, false, nil, errors.New("passcode does not match")
	}
	return passcodeRight, rehash, p, nil
}

// reservePasscodeTry charges one try before a passcode is checked, so that
// concurrent attempts cannot together exceed the maximum (a check-then-act
// would let N parallel requests guess N times); settlePasscode refunds it if
// the passcode was never checked. cur is the user as just read: the first
// compare-and-swap starts from it (no second read); a stale copy is re-read.
func (s *Service) reservePasscodeTry(ctx context.Context, cur store.User) (store.User, error) {
	return s.store.UpdateUserFrom(ctx, cur, func(u *store.User) error {
		switch {
		case len(u.PasscodeVerifier) == 0:
			return errNoPasscode
		case u.PasscodeLocked || u.PasscodeFailed >= s.cfg.PasscodeMaxFailures:
			return errLocked
		}
		u.PasscodeFailed++
		return nil
	})
}

// settlePasscode resolves a reserved try: right resets the count (and
// refreshes an outdated verifier), wrong keeps it and locks at the maximum,
// unchecked refunds it. The count at a wrong try's settlement includes tries
// still in flight; one of those later refunded (its passkey failed) does not
// undo the lock, which errs on the locked side. cur is the user as the
// reservation left it: the first compare-and-swap starts from it. An
// error means the settlement's outcome is unknown (the try stays charged, the
// lock may be missing its audit event): callers return it.
func (s *Service) settlePasscode(ctx context.Context, cur store.User, o passcodeOutcome, p Passcode, rehash bool) error {
	var fresh []byte
	if o == passcodeRight && rehash {
		var herr error
		if err := s.withSlot(ctx, func() { fresh, herr = s.newVerifier(p) }); err != nil {
			return fmt.Errorf("settle passcode try: rehash: %w", err)
		}
		if herr != nil {
			return fmt.Errorf("settle passcode try: rehash: %w", herr)
		}
	}
	locked := false
	_, err := s.store.UpdateUserFrom(ctx, cur, func(u *store.User) error {
		locked = false
		switch o {
		case passcodeUnchecked:
			u.PasscodeFailed = max(u.PasscodeFailed-1, 0)
		case passcodeWrong:
			if u.PasscodeFailed >= s.cfg.PasscodeMaxFailures && !u.PasscodeLocked {
				u.PasscodeLocked, locked = true, true
			}
		case passcodeRight:
			u.PasscodeFailed = 0
			if fresh != nil {
				u.PasscodeVerifier = fresh
			}
		}
		u.UpdatedAt = s.cfg.Now().UTC()
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle passcode try: %w", err)
	}
	if locked {
		return s.audit.Record(ctx, audit.Event{Type: "passcode.lock", Outcome: audit.Success, Actor: "system", UserID: cur.ID,
			Reason: fmt.Sprintf("%d wrong passcodes", s.cfg.PasscodeMaxFailures)})
	}
	return nil
}

// refundUnchecked settles a try reserved by a request that ended before its
// passcode was checked (cause: the request's end, while it waited for a
// hashing slot): the refund runs on a context that outlives the request, so
// the try is not lost with it. It returns cause, with the refund's error if
// that failed.
func (s *Service) refundUnchecked(ctx context.Context, cur store.User, cause error) error {
	return errors.Join(cause, s.settlePasscode(context.WithoutCancel(ctx), cur, passcodeUnchecked, nil, false))
}

// BeginPasscodeChange starts changing the passcode: a passkey assertion over
// a random challenge plus the old and new passcodes, each encrypted for this
// ceremony.
func (s *Service) BeginPasscodeChange(ctx context.Context, token string) (AssertionOptions, error) {
	sess, u, err := s.session(ctx, token)
	if err != nil {
		return AssertionOptions{}, err
	}
	switch {
	case len(u.PasscodeVerifier) == 0:
		return AssertionOptions{}, errNoPasscode
	case u.PasscodeLocked:
		return AssertionOptions{}, errLocked
	}
	return s.beginPasscodeCeremony(ctx, sess, u, kindPasscodeChange, FieldPasscode, FieldNewPasscode)
}

// beginPasscodeCeremony is what starting a passcode change and a reset share:
// a passkey assertion of the session's user over a random challenge, and the
// passcode fields encrypted for this ceremony (HPKE).
func (s *Service) beginPasscodeCeremony(ctx context.Context, sess store.Ceremony, u store.User, kind string, fields ...string) (AssertionOptions, error) {
	creds, err := s.passkeys(ctx, u.ID, true)
	if err != nil {
		return AssertionOptions{}, err
	}
	if len(creds) == 0 {
		return AssertionOptions{}, errNoPasskey
	}
	assertion, sd, err := s.wa.BeginLogin(newWAUser(u, creds), gowebauthn.WithUserVerification(s.uv))
	if err != nil {
		return AssertionOptions{}, fmt.Errorf("begin login: %w", err)
	}
	_, kid, err := s.currentPasscodeKey()
	if err != nil {
		return AssertionOptions{}, err
	}
	cer, err := s.createCeremony(ctx, kind, u.ID, "", ceremonyData{Session: *sd, KEKID: kekIDString(kid), WebSession: sess.ID})
	if err != nil {
		return AssertionOptions{}, err
	}
	hp, err := s.hpkeParams(cer.ID, kid, assertion.Response.Challenge, fields...)
	if err != nil {
		return AssertionOptions{}, err
	}
	return AssertionOptions{CeremonyID: cer.ID, PublicKey: assertion, HPKE: hp, ExpiresAt: cer.ExpiresAt.Format(time.RFC3339)}, nil
}

// PasscodeChange finishes a passcode change.
type PasscodeChange struct {
	CeremonyID  string
	Credential  []byte
	Passcode    []byte // old passcode envelope
	NewPasscode []byte // new passcode envelope
}

// FinishPasscodeChange verifies the passkey and the old passcode (counted
// against the lock like any try) and sets the new one.
func (s *Service) FinishPasscodeChange(ctx context.Context, token string, in PasscodeChange) error {
	f, err := s.startPasscodeFinish(ctx, token, passcodeFinishIn{ceremonyID: in.CeremonyID, kind: kindPasscodeChange,
		credential: in.Credential, oldPasscode: in.Passcode, newPasscode: in.NewPasscode, event: "passcode.change"})
	if err != nil {
		return err
	}
	defer f.leave()
	u := f.u
	if u, err = s.reservePasscodeTry(ctx, u); err != nil {
		if errors.Is(err, fault.ErrLocked) || errors.Is(err, fault.ErrConflict) {
			return f.fail(ctx, err.Error(), err)
		}
		return err
	}
	v, verr := s.verifyAssertion(u, f.creds, f.d.Session, f.challenge, f.parsed)
	assertionOK := verr == nil
	outcome := passcodeUnchecked
	if verr == nil {
		// The verifier is replaced below, so a rehash is moot.
		if werr := s.withSlot(ctx, func() {
			outcome, _, _, verr = s.checkPasscode(u, f.kid, PasscodeInfo(f.cer.ID, f.challenge, FieldPasscode), f.oldEnv)
		}); werr != nil {
			return s.refundUnchecked(ctx, u, werr)
		}
		if verr != nil {
			verr = fmt.Errorf("old passcode: %w", verr)
		}
	}
	serr := s.settlePasscode(ctx, u, outcome, nil, false)
	var aerr error
	if assertionOK || v.clone {
		aerr = s.afterAssertion(ctx, "browser", f.cred, f.parsed, v, assertionOK, false)
	}
	if err := errors.Join(serr, aerr); err != nil {
		return err
	}
	if verr != nil {
		return f.fail(ctx, verr.Error(), fault.ErrUnauthenticated)
	}
	return s.setPasscode(ctx, u.ID, f.newPC, "passcode.change")
}

// passcodeFinishIn is what a passcode change or reset finish sends.
type passcodeFinishIn struct {
	ceremonyID, kind        string
	credential, newPasscode []byte
	oldPasscode             []byte // a change only
	event                   string // the audit event type: passcode.change or passcode.reset
	// session, when set, checks the web session before anything else (a reset needs a reset link's).
	session func(store.Ceremony) error
}

// passcodeFinish is what the passcode change and reset finishes share once
// startPasscodeFinish has checked it: the session's user, the ceremony, the
// new passcode (opened and within policy, the ceremony consumed) and the
// user's ACTIVE passkey the assertion names. The caller holds a hashing slot
// until leave.
type passcodeFinish struct {
	u         store.User
	sessionID string // the web session's ceremony
	cer       store.Ceremony
	d         ceremonyData
	kid       [4]byte
	challenge []byte
	parsed    *protocol.ParsedCredentialAssertionData
	oldEnv    Envelope
	newPC     Passcode
	cred      store.Credential
	creds     []store.Credential
	ev        audit.Event
	s         *Service
	leave     func()
}

// fail audits a refusal of the finish and returns public.
func (f *passcodeFinish) fail(ctx context.Context, reason string, public error) error {
	f.ev.Outcome, f.ev.Reason = audit.Failure, reason
	if err := f.s.audit.Record(ctx, f.ev); err != nil {
		return err
	}
	return public
}

// startPasscodeFinish runs the steps a passcode change and a reset share, in
// this order: the session, the request's envelopes, the ceremony (of this
// session), a hashing slot (before anything changes: a 503 leaves the
// ceremony usable), the new passcode opened and checked against the policy,
// the ceremony consumed, and the assertion's passkey (the user's own and
// ACTIVE). The assertion itself is verified by the caller.
func (s *Service) startPasscodeFinish(ctx context.Context, token string, in passcodeFinishIn) (_ *passcodeFinish, err error) {
	f := &passcodeFinish{s: s}
	var sess store.Ceremony
	if sess, f.u, err = s.session(ctx, token); err != nil {
		return nil, err
	}
	f.sessionID = sess.ID
	if in.session != nil {
		if err := in.session(sess); err != nil {
			return nil, err
		}
	}
	if f.parsed, err = parseAssertion(in.credential); err != nil {
		return nil, err
	}
	if in.kind == kindPasscodeChange {
		if f.oldEnv, err = ParseEnvelope(in.oldPasscode); err != nil {
			return nil, err
		}
	}
	newEnv, err := ParseEnvelope(in.newPasscode)
	if err != nil {
		return nil, fault.Invalid("new_passcode", "%s", invalidReason(err))
	}
	if f.cer, f.d, err = s.loadCeremony(ctx, in.ceremonyID, in.kind, f.u.ID, ""); err != nil {
		return nil, err
	}
	if f.d.WebSession != sess.ID {
		return nil, errCeremony
	}
	if f.leave, err = s.gate.Admit(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.leave()
		}
	}()
	f.ev = audit.Event{Type: in.event, Actor: "browser", UserID: f.u.ID}
	if f.kid, err = parseKEKID(f.d.KEKID); err != nil {
		return nil, err
	}
	f.challenge, _ = base64.RawURLEncoding.DecodeString(f.d.Session.Challenge)
	newPT, err := s.openPasscode(f.kid, PasscodeInfo(f.cer.ID, f.challenge, FieldNewPasscode), newEnv)
	if err != nil {
		_ = s.consume(ctx, f.cer.ID)
		return nil, f.fail(ctx, "new passcode: "+err.Error(), fault.ErrUnauthenticated)
	}
	if f.newPC, err = CheckPasscodePolicy(newPT); err != nil {
		return nil, fault.Invalid("new_passcode", "%s", invalidReason(err))
	}
	if err := s.consume(ctx, f.cer.ID); err != nil {
		// "passcode-change ceremony replayed or expired", "passcode-reset ...".
		return nil, f.fail(ctx, strings.Replace(in.event, ".", "-", 1)+" ceremony replayed or expired", err)
	}
	if f.cred, err = s.credentialFor(ctx, f.parsed); err != nil {
		return nil, err
	}
	f.ev.CredentialID = f.cred.ID
	if f.cred.ID == "" || f.cred.UserID != f.u.ID || f.cred.Status != store.StatusActive {
		return nil, f.fail(ctx, "unknown, foreign or inactive passkey", fault.ErrUnauthenticated)
	}
	if f.creds, err = s.ownedPasskeys(ctx, f.u.ID); err != nil {
		return nil, err
	}
	return f, nil
}

func invalidReason(err error) string {
	var ie *fault.InvalidError
	if errors.As(err, &ie) && len(ie.Problems) > 0 {
		return ie.Problems[0].Reason
	}
	return err.Error()
}

// ownPasskeyByID is the passkey among creds whose lookup key is key (zero if none).
func ownPasskeyByID(creds []store.Credential, key string) store.Credential {
	for _, c := range creds {
		if c.LookupKey == key {
			return c
		}
	}
	return store.Credential{}
}
