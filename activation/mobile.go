package activation

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/language"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// MobileOperation is one operation as the mobile-token API lists it (Wultra mobile-token API, "Get
// Pending Operations").
type MobileOperation struct {
	ID                   string               `json:"id"`
	Name                 string               `json:"name"`
	Data                 string               `json:"data"`
	Status               string               `json:"status"`
	OperationCreated     string               `json:"operationCreated"`
	OperationExpires     string               `json:"operationExpires"`
	AllowedSignatureType AllowedSignatureType `json:"allowedSignatureType"`
	FormData             FormData             `json:"formData"`
}

// AllowedSignatureType says which signatures approve an operation.
type AllowedSignatureType struct {
	Type     string   `json:"type"`
	Variants []string `json:"variants"`
}

// FormData is what the app displays.
type FormData struct {
	Title      string          `json:"title"`
	Message    string          `json:"message"`
	Attributes []FormAttribute `json:"attributes"`
}

// FormAttribute is one displayed attribute (AMOUNT, KEY_VALUE or NOTE).
type FormAttribute struct {
	Type     string      `json:"type"`
	ID       string      `json:"id"`
	Label    string      `json:"label"`
	Amount   json.Number `json:"amount,omitempty"`
	Currency string      `json:"currency,omitempty"`
	// AmountFormatted and CurrencyFormatted are what the SDKs display (AmountAttribute): the stored amount
	// with the locale's grouping and decimal separator and every stored decimal, and the currency's symbol
	// in that locale. Without them the Android SDK would round the raw amount to 2 decimals.
	AmountFormatted   string `json:"amountFormatted,omitempty"`
	CurrencyFormatted string `json:"currencyFormatted,omitempty"`
	Value             string `json:"value,omitempty"`
	Note              string `json:"note,omitempty"`
}

// javaTime is the mobile-token API's timestamp format ("2018-07-02T14:43:13+0000").
const javaTime = "2006-01-02T15:04:05-0700"

func mobileView(op store.Operation, lang language.Tag) (MobileOperation, error) {
	data, err := OperationData(op)
	if err != nil {
		return MobileOperation{}, err
	}
	m := MobileOperation{ID: op.ID, Name: op.Type, Data: data, Status: string(op.Status),
		OperationCreated: op.CreatedAt.UTC().Format(javaTime), OperationExpires: op.ExpiresAt.UTC().Format(javaTime),
		AllowedSignatureType: AllowedSignatureType{Type: "2FA", Variants: []string{"possession_knowledge", "possession_biometry"}},
		FormData:             FormData{Title: operationTitle(op), Message: operationMessage(op), Attributes: []FormAttribute{}}}
	if op.Amount != "" {
		a := FormAttribute{Type: "AMOUNT", ID: "operation.amount", Label: "Amount", Amount: json.Number(op.Amount), Currency: op.Currency}
		if f, ok := FormatAmount(lang, op.Amount, op.Currency); ok {
			a.AmountFormatted, a.CurrencyFormatted = f.Amount, f.Currency
		}
		m.FormData.Attributes = append(m.FormData.Attributes, a)
	}
	if op.PayeeAccount != "" {
		m.FormData.Attributes = append(m.FormData.Attributes,
			FormAttribute{Type: "KEY_VALUE", ID: "operation.account", Label: "To account", Value: op.PayeeAccount},
			FormAttribute{Type: "KEY_VALUE", ID: "operation.payee", Label: "Payee", Value: op.PayeeName})
	}
	if op.Text != "" {
		m.FormData.Attributes = append(m.FormData.Attributes, FormAttribute{Type: "NOTE", ID: "operation.note", Label: "Note", Note: op.Text})
	}
	return m, nil
}

// OperationStateError says an operation can no longer be approved or rejected; the mobile-token API
// renders it as OPERATION_ALREADY_FINISHED, _FAILED, _CANCELED or OPERATION_EXPIRED.
type OperationStateError struct {
	Status store.OperationStatus
	Err    error
}

func (e *OperationStateError) Error() string { return "operation is " + string(e.Status) }
func (e *OperationStateError) Unwrap() error { return e.Err }

// ErrNoOperations is returned by the mobile-token and offline methods when no operation service is wired.
var ErrNoOperations = errors.New("activation: no operation service")

// ListOperations returns the PENDING operations of the token's user that PowerAuth may approve, formatted
// for lang, less those another activation claimed.
func (s *Service) ListOperations(ctx context.Context, ta TokenAuth, lang language.Tag) ([]MobileOperation, error) {
	return s.listFor(ctx, ta.Activation, string(store.OpPending), lang)
}

// HistoryLimit is the most operations a history answer holds (the latest ones).
const HistoryLimit = 100

func (s *Service) listFor(ctx context.Context, act store.Credential, status string, lang language.Tag) ([]MobileOperation, error) {
	if s.ops == nil {
		return nil, ErrNoOperations
	}
	var ops []store.Operation
	var err error
	if status == "" {
		ops, err = s.ops.Recent(ctx, act.UserID, HistoryLimit)
	} else {
		ops, err = s.ops.List(ctx, act.UserID, status)
	}
	if err != nil {
		return nil, err
	}
	out := []MobileOperation{}
	now := s.now()
	for _, op := range ops {
		if !txsign.FactorAllowed(op, store.KindPowerAuth) || (op.Status == store.OpPending && !now.Before(op.ExpiresAt)) {
			continue
		}
		if by := txsign.ClaimedBy(op); by != "" && by != act.ID {
			continue
		}
		m, err := mobileView(op, lang)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// URIOperationHistory is the uriId the mobile-token SDKs sign the history request with.
const URIOperationHistory = "/operation/history"

// OperationHistory answers /api/auth/token/app/operation/history (mobile-token SDK getHistory; Wultra
// MobileTokenController operationListAll): a possession_knowledge or possession_biometry signature, uriId
// /operation/history, over the exact body (the SDKs send {}); the answer lists the user's operations of every
// status that PowerAuth may approve, newest first, the latest HistoryLimit.
func (s *Service) OperationHistory(ctx context.Context, req SignedRequest, lang language.Tag) ([]MobileOperation, error) {
	if s.ops == nil {
		return nil, ErrNoOperations
	}
	if err := ParseListRequest(req.Body); err != nil {
		return nil, err
	}
	req.URIID, req.Method = URIOperationHistory, "POST"
	v, err := s.Verify(ctx, "powerauth.operation.history", req, func(t powerauth.SignatureType) bool {
		return t == powerauth.SignaturePossessionKnowledge || t == powerauth.SignaturePossessionBiometry
	})
	if err != nil {
		return nil, err
	}
	return s.listFor(ctx, v.Activation, "", lang)
}

// errUnknownOperation is what any operation of another user, or no operation at all, looks like.
var errUnknownOperation = fault.New(fault.ErrNotFound, "operation")

// OperationDetail returns one operation of the token's user, whatever its status, formatted for lang. An
// operation another activation claimed looks unknown.
func (s *Service) OperationDetail(ctx context.Context, ta TokenAuth, id string, lang language.Tag) (MobileOperation, error) {
	if s.ops == nil {
		return MobileOperation{}, ErrNoOperations
	}
	op, err := s.ops.Get(ctx, id)
	if errors.Is(err, fault.ErrNotFound) || (err == nil && op.UserID != ta.Activation.UserID) ||
		(err == nil && txsign.ClaimedBy(op) != "" && txsign.ClaimedBy(op) != ta.Activation.ID) {
		return MobileOperation{}, errUnknownOperation
	}
	if err != nil {
		return MobileOperation{}, err
	}
	return mobileView(op, lang)
}

// ClaimOperation answers /api/auth/token/app/operation/detail/claim (mobile-token SDK claim, for an operation
// opened from a QR code or a deep link; PowerAuth server operationClaim): the token's activation becomes the
// operation's, so that no other activation can list, approve or reject it. Another user's operation, or one
// another activation claimed, answers like an unknown one; an operation no longer PENDING answers its state
// (OPERATION_ALREADY_FINISHED, ..., as Wultra's handleStatus does).
func (s *Service) ClaimOperation(ctx context.Context, ta TokenAuth, id string, lang language.Tag) (MobileOperation, error) {
	if s.ops == nil {
		return MobileOperation{}, ErrNoOperations
	}
	op, err := s.ops.Claim(ctx, id, ta.Activation)
	switch {
	case errors.Is(err, fault.ErrNotFound), errors.Is(err, txsign.ErrClaimedByOther):
		return MobileOperation{}, errUnknownOperation
	case errors.Is(err, fault.ErrConflict), errors.Is(err, fault.ErrGone):
		return MobileOperation{}, &OperationStateError{Status: op.Status, Err: err}
	case err != nil:
		return MobileOperation{}, err
	}
	return mobileView(op, lang)
}

func amrFor(t powerauth.SignatureType) []string {
	amr := []string{"swk"} // possession: the app's software-protected key (RFC 8176)
	if t&powerauth.SignatureKnowledge != 0 {
		amr = append(amr, "pin")
	}
	if t&powerauth.SignatureBiometry != 0 {
		amr = append(amr, "fpt")
	}
	return amr
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Authorize answers /api/auth/token/app/operation/authorize: a possession_knowledge or possession_biometry
// signature (uriId /operation/authorize) over the exact request body {"requestObject":{"id","data"}},
// whose data must equal the stored operation's data byte for byte. It goes through the shared approval
// path (txsign Decide): the operation's and the activation's failed attempts are counted there, and the
// transaction token is minted there. A valid signature moves the counter even when the decision fails.
func (s *Service) Authorize(ctx context.Context, req SignedRequest) (txsign.Result, error) {
	req.URIID, req.Method = URIOperationAuthorize, "POST"
	return s.decide(ctx, req, txsign.Approve)
}

// Cancel answers /api/auth/token/app/operation/cancel: a signature of any type (possession suffices,
// uriId /operation/cancel) over {"requestObject":{"id","reason"}} rejects the operation.
func (s *Service) Cancel(ctx context.Context, req SignedRequest) (txsign.Result, error) {
	req.URIID, req.Method = URIOperationCancel, "POST"
	return s.decide(ctx, req, txsign.Reject)
}

func (s *Service) decide(ctx context.Context, req SignedRequest, d txsign.Decision) (txsign.Result, error) {
	if s.ops == nil {
		return txsign.Result{}, ErrNoOperations
	}
	or, err := ParseOperationRequest(req.Body)
	if err != nil {
		return txsign.Result{}, err
	}
	if d == txsign.Approve && or.Reason != "" {
		return txsign.Result{}, fault.Invalid("reason", "is only for cancel")
	}
	sg, reason, err := s.resolve(ctx, req.Authorization)
	if err != nil {
		return txsign.Result{}, err
	}
	if reason != "" {
		if err := s.audit.Record(ctx, audit.Event{Type: "operation." + d.String(), Outcome: audit.Unverified, Reason: reason,
			Actor: "mobile", UserID: sg.act.UserID, OperationID: or.ID, CredentialID: sg.act.ID}); err != nil {
			return txsign.Result{}, err
		}
		return txsign.Result{}, fault.ErrUnauthenticated
	}
	t := sg.hdr.SignatureType
	var match *powerauth.CounterMatch
	res, err := s.ops.Decide(ctx, txsign.Attempt{OperationID: or.ID, CredentialID: sg.act.ID, Decision: d, Actor: "mobile",
		PossessionOnly: !t.CountsFailedAttempts(),
		Verify: func(op store.Operation, cred store.Credential) (txsign.Evidence, error) {
			ev := txsign.Evidence{Algorithm: "PowerAuth-" + sg.hdr.Version.String() + "-HMAC",
				Signed: SignedBase(req.Method, req.URIID, sg.hdr.Nonce, req.Body), Signature: sg.hdr.Signature,
				PublicKey: b64url(cred.PublicKey), AMR: amrFor(t),
				Extra: map[string]any{"signature_type": t.String(), "uri_id": req.URIID, "counter": cred.Counter,
					"application_id": sg.app.ID}}
			if cred.Kind != store.KindPowerAuth {
				return ev, fmt.Errorf("%w: credential is not a PowerAuth activation", txsign.ErrPossessionNotProven)
			}
			if d == txsign.Approve && !twoFactor(t) {
				// Refused unchecked: it proves nothing and counts nothing.
				return ev, fmt.Errorf("%w: approval needs possession_knowledge or possession_biometry, got %s",
					txsign.ErrPossessionNotProven, t)
			}
			// The signature first, then the data (as Wultra's enrollment server does): only a signature
			// whose possession component verifies proves anything about the user (issue 13 item 2).
			m, _, err := s.check(cred, sg, req.Method, req.URIID, req.Body)
			if err != nil {
				return ev, signatureFailure(err)
			}
			match = &m
			ev.Extra["counter"] = m.NextCounter - 1
			if d == txsign.Approve {
				want, err := OperationData(op)
				if err != nil {
					return ev, err
				}
				ev.Extra["operation_data"] = want
				if subtle.ConstantTimeCompare([]byte(want), []byte(or.Data)) != 1 {
					// The right factors over other data: the operation's failure, not the activation's
					// (txsign.ErrOperationOnly; Wultra's MobileTokenController does the same).
					return ev, fmt.Errorf("operation data does not match the stored operation (%w)", txsign.ErrOperationOnly)
				}
			} else {
				ev.Extra["reason"] = or.Reason
			}
			return spendWithDecision(ev, cred, m)
		}})
	if match != nil && err != nil {
		// The decision did not commit (signed data that differs, an operation no longer pending, a lost race),
		// but the signature was valid, so its counter is spent all the same, by advance; a refusal resets no
		// failures. Once the decision is made, a failure here changes nothing the device can act on: the worst
		// case is a signature that could be shown again for the same, no longer pending operation.
		_, _ = s.advance(ctx, sg.act.ID, *match, t, false)
	}
	if err != nil {
		return txsign.Result{}, s.operationStateError(ctx, or.ID, err)
	}
	return res, nil
}

// spendWithDecision has the decision spend the counter a valid signature matched: CTR = matched + 1 and
// CTR_DATA = next(matched) (PowerAuth 3.x, Computing and Validating Signatures, counter look-ahead) go
// with the credential's use in the decision's own statement (txsign.Evidence.Counter and Data,
// store.CredentialUse), not in a read and compare-and-swap of the activation after it (advance).
//
// Why that is as safe as advance, whose swap refuses a counter already used:
//   - What stops a replayed signature from deciding twice is the operation's version swap, not the
//     counter: a signature is over its own request body, which names the operation and carries its data,
//     so it can decide this operation only, and the operation leaves PENDING exactly once. Two requests
//     with the same signature race on that swap; the loser writes nothing, neither the decision nor the
//     counter, and is refused. advance never decided anything either: it ran after the decision had
//     committed, and its refusal was ignored.
//   - The stored counter only moves forward and CTR_DATA moves with it or not at all (one condition on the
//     counter as it was before the statement), so a concurrent request that spent a later counter first is
//     not undone, and the stored pair is always one position of the CTR_DATA chain. A signature left behind
//     by that race is outside the look-ahead window from then on: it verifies nowhere.
//   - The rest of the record is the copy Decide read: while the activation is ACTIVE only CTR_DATA changes
//     in it (advancedData), so writing it back loses nothing. An activation blocked or removed between that
//     read and the statement still has its counter spent, which only refuses more.
//   - Failed attempts reset as advance reset them: Decide resets them with the use unless the attempt is
//     possession-only (txsign.Attempt.PossessionOnly), and only on an ACTIVE activation.
func spendWithDecision(ev txsign.Evidence, cred store.Credential, m powerauth.CounterMatch) (txsign.Evidence, error) {
	data, err := advancedData(cred, m)
	if err != nil {
		return ev, err
	}
	ev.Counter, ev.Data = m.NextCounter, data
	return ev, nil
}

// signatureFailure classifies a PowerAuth verification failure for the approval path: a wrong knowledge
// or biometry factor behind a possession component that verifies counts (PowerAuth 3.x: failed attempts
// of multi-factor types count); any other mismatch proves nothing about the user and counts nothing.
func signatureFailure(err error) error {
	switch {
	case errors.Is(err, powerauth.ErrFactorMismatch):
		return fmt.Errorf("wrong knowledge or biometry factor: %w", err)
	case errors.Is(err, powerauth.ErrSignatureMismatch):
		return fmt.Errorf("%w: %w", txsign.ErrPossessionNotProven, err)
	}
	return err
}

// operationStateError turns Decide's conflict or gone into an OperationStateError with the status.
func (s *Service) operationStateError(ctx context.Context, id string, err error) error {
	if !errors.Is(err, fault.ErrConflict) && !errors.Is(err, fault.ErrGone) {
		return err
	}
	op, gerr := s.ops.Get(ctx, id)
	if gerr != nil || op.Status == store.OpPending {
		return err
	}
	return &OperationStateError{Status: op.Status, Err: err}
}

// OfflineQR is an operation's offline QR code for one activation.
type OfflineQR struct {
	OperationID   string
	ActivationID  string
	Payload       string
	OperationData string
	ExpiresAt     time.Time
}

// OfflinePayload builds the QR payload for approving op offline with an activation (PowerAuth 3.x,
// Off-line Signature QR Code): id, title, message, operation data, flags "B" (biometry allowed), the
// derived nonce, key type '1' and an ECDSA signature by the activation's server key.
func (s *Service) OfflinePayload(ctx context.Context, opID, activationID string) (OfflineQR, error) {
	if s.ops == nil {
		return OfflineQR{}, ErrNoOperations
	}
	op, c, err := s.offlinePair(ctx, opID, activationID)
	if err != nil {
		return OfflineQR{}, err
	}
	k, err := s.loadKeys(c)
	if err != nil {
		return OfflineQR{}, err
	}
	data, err := OperationData(op)
	if err != nil {
		return OfflineQR{}, err
	}
	payload, err := powerauth.BuildOfflinePayload(powerauth.OfflinePayload{OperationID: op.ID, Title: operationTitle(op),
		Message: operationMessage(op), OperationData: data, Flags: string(rune(powerauth.OfflineFlagBiometry)),
		Nonce: offlineNonce(op, c.ID), KeyType: powerauth.OfflineKeyServer}, k.serverPriv)
	if err != nil {
		return OfflineQR{}, err
	}
	return OfflineQR{OperationID: op.ID, ActivationID: c.ID, Payload: payload, OperationData: data, ExpiresAt: op.ExpiresAt}, nil
}

// offlinePair loads a PENDING operation and an ACTIVE PowerAuth activation of its user that may approve it.
func (s *Service) offlinePair(ctx context.Context, opID, activationID string) (store.Operation, store.Credential, error) {
	var c fault.Collector
	c.Merge("credential_id", validID("credential_id", activationID))
	if err := c.Err(); err != nil {
		return store.Operation{}, store.Credential{}, err
	}
	op, err := s.ops.Get(ctx, opID)
	if err != nil {
		return op, store.Credential{}, err
	}
	if op.Status != store.OpPending {
		return op, store.Credential{}, fault.New(fault.ErrConflict, "the operation is %s", op.Status)
	}
	cred, err := s.store.GetCredential(ctx, activationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cred.Kind != store.KindPowerAuth || cred.UserID != op.UserID)) {
		return op, cred, fault.Invalid("credential_id", "is not a PowerAuth activation of the operation's user")
	}
	if err != nil {
		return op, cred, err
	}
	if cred.Status != store.StatusActive {
		return op, cred, fault.New(fault.ErrConflict, "the activation is %s", cred.Status)
	}
	if !txsign.FactorAllowed(op, store.KindPowerAuth) {
		return op, cred, fault.New(fault.ErrForbidden, "this operation does not accept powerauth credentials")
	}
	return op, cred, nil
}

// VerifyOfflineCode checks the code the user copied from the app for an offline QR (PowerAuth 3.x, Offline
// Signatures): possession_knowledge, or possession_biometry (the QR allows biometry), decimal, within the
// counter look-ahead. It goes through the shared approval path like an online approval: failures count
// on the operation and the activation, success mints the token.
func (s *Service) VerifyOfflineCode(ctx context.Context, actor, opID, activationID, code string) (txsign.Result, error) {
	if s.ops == nil {
		return txsign.Result{}, ErrNoOperations
	}
	if err := ValidateOfflineCode(code); err != nil {
		return txsign.Result{}, err
	}
	if _, _, err := s.offlinePair(ctx, opID, activationID); err != nil {
		if errors.Is(err, fault.ErrConflict) || errors.Is(err, fault.ErrGone) {
			return txsign.Result{}, s.operationStateError(ctx, opID, err)
		}
		return txsign.Result{}, err
	}
	var (
		match   *powerauth.CounterMatch
		matched powerauth.SignatureType
	)
	res, err := s.ops.Decide(ctx, txsign.Attempt{OperationID: opID, CredentialID: activationID, Decision: txsign.Approve,
		Actor: actor,
		Verify: func(op store.Operation, cred store.Credential) (txsign.Evidence, error) {
			ev := txsign.Evidence{Algorithm: "PowerAuth-offline-decimal", Signature: code, PublicKey: b64url(cred.PublicKey),
				Extra: map[string]any{"counter": cred.Counter}}
			k, err := s.loadKeys(cred)
			if err != nil {
				return ev, err
			}
			data, err := OperationData(op)
			if err != nil {
				return ev, err
			}
			nonce := offlineNonce(op, cred.ID)
			ev.Signed = b64url([]byte(powerauth.SignatureBaseString(powerauth.OfflineMethod, powerauth.OfflineURIID, nonce,
				[]byte(op.ID+"&"+data))))
			ev.Extra["operation_data"], ev.Extra["nonce"] = data, base64.StdEncoding.EncodeToString(nonce)
			t, m, err := powerauth.VerifyOfflineCode(powerauth.OfflineVerification{OperationID: op.ID, OperationData: data,
				Nonce: nonce, Code: code, BiometryAllowed: true, Keys: k.derived.SignatureKeys(), Counter: cred.Counter,
				CounterData: k.ctrData, Lookahead: s.cfg.Lookahead})
			if err != nil {
				return ev, signatureFailure(err)
			}
			match, matched = &m, t
			ev.AMR, ev.Extra["signature_type"], ev.Extra["counter"] = amrFor(t), t.String(), m.NextCounter-1
			return spendWithDecision(ev, cred, m)
		}})
	if match != nil && err != nil {
		_, _ = s.advance(ctx, activationID, *match, matched, false) // as in decide
	}
	if err != nil {
		return txsign.Result{}, s.operationStateError(ctx, opID, err)
	}
	return res, nil
}
