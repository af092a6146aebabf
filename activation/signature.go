package activation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Signed request URI identifiers (PowerAuth 3.x Standard RESTful API and mobile-token API).
const (
	URIActivationRemove   = "/pa/activation/remove"
	URISignatureValidate  = "/pa/signature/validate"
	URITokenCreate        = "/pa/token/create"
	URITokenRemove        = "/pa/token/remove"
	URIVaultUnlock        = "/pa/vault/unlock"
	URIRecoveryConfirm    = "/pa/recovery/confirm"
	URIUpgradeCommit      = "/pa/upgrade/commit"
	URIOperationAuthorize = "/operation/authorize"
	URIOperationCancel    = "/operation/cancel"
)

// SignedRequest is a request authenticated by an X-PowerAuth-Authorization header. Body is the exact bytes
// received (notes, Wire details item 8); for GET it is the canonical query string.
type SignedRequest struct {
	Method        string
	URIID         string
	Authorization string
	Body          []byte
}

// Signed is a verified request: the activation after its counter moved, and what signed.
type Signed struct {
	Activation  store.Credential
	Application store.Application
	Header      powerauth.AuthorizationHeader
	Match       powerauth.CounterMatch
	keys        *keys
}

// Evidence returns what an auditor needs to re-verify the signature: the signed base string (the
// application secret is left out), the signature, the type and the counter position.
func (v *Signed) Evidence(method, uriID string, body []byte) map[string]any {
	return map[string]any{"version": v.Header.Version.String(), "signature_type": v.Header.SignatureType.String(),
		"signature": v.Header.Signature, "uri_id": uriID,
		"signed": SignedBase(method, uriID, v.Header.Nonce, body), "counter": v.Match.NextCounter - 1,
		"application_id": v.Application.ID}
}

// SignedBase is the signed DATA without the trailing "&" ‖ APPLICATION_SECRET, base64url.
func SignedBase(method, uriID string, nonce, body []byte) string {
	return base64.RawURLEncoding.EncodeToString([]byte(powerauth.SignatureBaseString(method, uriID, nonce, body)))
}

// Allowed signature types.
func anyType(powerauth.SignatureType) bool { return true }

func twoFactor(t powerauth.SignatureType) bool {
	return t == powerauth.SignaturePossessionKnowledge || t == powerauth.SignaturePossessionBiometry ||
		t == powerauth.SignaturePossessionKnowledgeBiometry
}

// possessionKnowledge is the one type RecoveryController accepts (@PowerAuth signatureType POSSESSION_KNOWLEDGE).
func possessionKnowledge(t powerauth.SignatureType) bool {
	return t == powerauth.SignaturePossessionKnowledge
}

// possessionOnly is what the upgrade commit accepts (UpgradeService: POSSESSION).
func possessionOnly(t powerauth.SignatureType) bool { return t == powerauth.SignaturePossession }

// signer is a parsed header with the activation and application it names.
type signer struct {
	hdr powerauth.AuthorizationHeader
	act store.Credential
	app store.Application
}

// resolve parses the header and loads the ACTIVE activation and its application, both named by the header,
// in one read. Every failure is the same authentication failure from outside; reason says why.
func (s *Service) resolve(ctx context.Context, header string) (signer, string, error) {
	var sg signer
	hdr, err := powerauth.ParseAuthorizationHeader(header)
	if err != nil {
		return sg, "malformed " + powerauth.HeaderAuthorization, nil
	}
	sg.hdr = hdr
	c, app, err := s.store.GetCredentialWithApplication(ctx, strings.ToLower(hdr.ActivationID), hdr.ApplicationKey)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Kind != store.KindPowerAuth) {
		return sg, "unknown activation", nil
	}
	if err != nil {
		return sg, "", err
	}
	sg.act = c
	if c.Status != store.StatusActive {
		return sg, "activation is " + string(c.Status), nil
	}
	d, err := readData(c)
	if err != nil {
		return sg, "", err
	}
	// No application with the key is a zero one: not ACTIVE.
	if app.Status != AppActive || app.ID != d.ApplicationID {
		return sg, "application key does not match the activation", nil
	}
	sg.app = app
	return sg, "", nil
}

// check verifies a signature against the stored counter of c without writing anything
// (PowerAuth 3.x, Computing and Validating Signatures, look-ahead window).
func (s *Service) check(c store.Credential, sg signer, method, uriID string, body []byte) (powerauth.CounterMatch, *keys, error) {
	k, err := s.loadKeys(c)
	if err != nil {
		return powerauth.CounterMatch{}, nil, err
	}
	format, err := powerauth.OnlineSignatureFormat(sg.hdr.Version)
	if err != nil {
		return powerauth.CounterMatch{}, k, err
	}
	m, err := powerauth.VerifySignature(powerauth.SignatureVerification{
		Data:      powerauth.SignatureData(method, uriID, sg.hdr.Nonce, body, powerauth.ApplicationSecret(sg.app.AppSecret)),
		Signature: sg.hdr.Signature, Type: sg.hdr.SignatureType, Format: format, Keys: k.derived.SignatureKeys(),
		Counter: c.Counter, CounterData: k.ctrData, Lookahead: s.cfg.Lookahead})
	return m, k, err
}

// errCounterUsed: a concurrent request consumed the counter this signature matched.
var errCounterUsed = errors.New("signature counter already used")

// advance stores CTR = matched + 1 and CTR_DATA = next(matched) by compare-and-swap (PowerAuth 3.x,
// notes docs-versus-code item 3). A non-possession success resets the failed attempts; a possession-only
// success does not (it must not undo knowledge failures), nor does a valid signature whose request was
// refused after it (reset false: e.g. signed operation data that differs, counted as a failure).
func (s *Service) advance(ctx context.Context, id string, m powerauth.CounterMatch, t powerauth.SignatureType, reset bool) (store.Credential, error) {
	now := s.now()
	return s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		if c.Status != store.StatusActive {
			return fmt.Errorf("activation is %s", c.Status)
		}
		if c.Counter >= m.NextCounter {
			return errCounterUsed
		}
		data, err := advancedData(*c, m)
		if err != nil {
			return err
		}
		c.Data, c.Counter = data, m.NextCounter
		if reset && t.CountsFailedAttempts() {
			c.RecordSuccess(now)
		} else {
			c.LastUsedAt = &now
		}
		return nil
	})
}

// advancedData is c's Data with CTR_DATA = next(matched), the record to store with CTR = m.NextCounter.
// Nothing else in the Data of an ACTIVE activation changes after its key exchange (only CTR_DATA moves, by
// advance or by an approval's credential use), so a record built from any copy read while it was ACTIVE
// differs from the stored one in CTR_DATA alone.
func advancedData(c store.Credential, m powerauth.CounterMatch) ([]byte, error) {
	d, err := readData(c)
	if err != nil {
		return nil, err
	}
	d.CtrData = base64.StdEncoding.EncodeToString(m.NextCounterData[:])
	if err := writeData(&c, d); err != nil {
		return nil, err
	}
	return c.Data, nil
}

// recordFailure counts a failed non-possession signature: BLOCKED with MAX_FAILED_ATTEMPTS at the limit.
func (s *Service) recordFailure(ctx context.Context, id string) (store.Credential, error) {
	now := s.now()
	c, err := s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		if c.Status != store.StatusActive {
			return errUnchanged
		}
		c.RecordFailure(now)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return s.store.GetCredential(ctx, id)
	}
	return c, err
}

// Verify checks a signed request (the helper behind /pa/v3/signature/validate, activation remove, token
// create and vault unlock): the activation must be ACTIVE, the type allowed, the signature valid within
// the counter look-ahead. Success advances the counter; a failure whose possession component verifies (a
// wrong PIN or biometry) counts and blocks at the limit; any other failure counts nothing (unverified). Every failure is audited under event and returns
// fault.ErrUnauthenticated.
func (s *Service) Verify(ctx context.Context, event string, req SignedRequest, allowed func(powerauth.SignatureType) bool) (*Signed, error) {
	if allowed == nil {
		allowed = anyType
	}
	sg, reason, err := s.resolve(ctx, req.Authorization)
	if err != nil {
		return nil, err
	}
	record := func(outcome, reason string, evidence map[string]any) (*Signed, error) {
		ev := audit.Event{Type: event, Outcome: outcome, Reason: reason, Actor: "device",
			UserID: sg.act.UserID, CredentialID: sg.act.ID, Evidence: evidence}
		if err := s.audit.Record(ctx, ev); err != nil {
			return nil, err
		}
		return nil, fault.ErrUnauthenticated
	}
	fail := func(reason string, evidence map[string]any) (*Signed, error) {
		return record(audit.Failure, reason, evidence)
	}
	// Refusals before possession is proven count nothing: audited as unverified.
	unverified := func(reason string, evidence map[string]any) (*Signed, error) {
		return record(audit.Unverified, reason, evidence)
	}
	if reason != "" {
		return unverified(reason, nil)
	}
	if !allowed(sg.hdr.SignatureType) {
		return unverified("signature type "+sg.hdr.SignatureType.String()+" not allowed here", nil)
	}
	m, k, err := s.check(sg.act, sg, req.Method, req.URIID, req.Body)
	evidence := map[string]any{"signature_type": sg.hdr.SignatureType.String(), "version": sg.hdr.Version.String(),
		"uri_id": req.URIID, "counter": sg.act.Counter}
	if errors.Is(err, powerauth.ErrFactorMismatch) && sg.hdr.SignatureType.CountsFailedAttempts() {
		// The possession component verifies: the device signed with a wrong PIN (or biometry). Counted,
		// BLOCKED at the maximum (PowerAuth 3.x, failed attempts of multi-factor types).
		c, err := s.recordFailure(ctx, sg.act.ID)
		if err != nil {
			return nil, err
		}
		evidence["failed_attempts"], evidence["status"] = c.FailedAttempts, c.Status
		return fail("signature does not verify: wrong knowledge or biometry factor", evidence)
	}
	if errors.Is(err, powerauth.ErrSignatureMismatch) {
		// Not even the possession component verifies: nothing about the user is proven (issue 13 item 2).
		return unverified("possession not proven: signature does not verify", evidence)
	}
	if err != nil {
		return nil, err
	}
	c, err := s.advance(ctx, sg.act.ID, m, sg.hdr.SignatureType, true)
	if err != nil {
		if errors.Is(err, errCounterUsed) {
			return fail("signature counter already used", evidence)
		}
		if fault.IsUnavailable(err) { // the outcome is unknown: fail closed (503), not a refusal
			return nil, err
		}
		return fail("activation changed during verification: "+err.Error(), evidence)
	}
	v := &Signed{Activation: c, Application: sg.app, Header: sg.hdr, Match: m, keys: k}
	if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Success, Actor: "device", UserID: c.UserID,
		CredentialID: c.ID, Evidence: v.Evidence(req.Method, req.URIID, req.Body)}); err != nil {
		return nil, err
	}
	return v, nil
}

// ValidateSignature answers /pa/v3/signature/validate: any signature type, uriId /pa/signature/validate.
func (s *Service) ValidateSignature(ctx context.Context, req SignedRequest) error {
	req.URIID = URISignatureValidate
	_, err := s.Verify(ctx, "powerauth.signature.validate", req, anyType)
	return err
}

// RemoveActivation answers /pa/v3/activation/remove: a two-factor signature (uriId /pa/activation/remove)
// moves the activation to REMOVED.
func (s *Service) RemoveActivation(ctx context.Context, req SignedRequest) (string, error) {
	req.URIID = URIActivationRemove
	v, err := s.Verify(ctx, "powerauth.activation.remove", req, twoFactor)
	if err != nil {
		return "", err
	}
	now := s.now()
	c, err := s.store.UpdateCredential(ctx, v.Activation.ID, func(c *store.Credential) error {
		c.LookupKey = ""
		return c.Transition(store.StatusRemoved, store.ReasonNone, now)
	})
	if errors.Is(err, store.ErrInvalidTransition) {
		return "", fault.Wrap(fault.ErrConflict, err, "the activation cannot be removed")
	}
	if err != nil { // an outage keeps its kind: 503, not a refusal
		return "", err
	}
	return c.ID, nil
}
