package webauthn

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// Secure Payment Confirmation (W3C SPC, https://www.w3.org/TR/secure-payment-confirmation/).
//
// Where the browser supports it, the approval page asks for the passkey
// assertion through the Payment Request API instead of
// navigator.credentials.get(): the browser itself, not the page, shows the
// payee, the amount and the bank's instrument, and the assertion's
// clientDataJSON (type "payment.get", a CollectedClientPaymentData) carries
// what it showed. Signet checks that what was shown is the operation.

// spcCeremonyType is the clientDataJSON type of an SPC assertion (SPC
// "Verifying an Authentication Assertion", step "C.type is payment.get").
const spcCeremonyType = "payment.get"

// SPCInstrument is the bank's payment instrument the browser shows in its
// SPC dialog (SPC PaymentCredentialInstrument): a display name and an icon
// URL the browser must be able to load.
type SPCInstrument struct {
	DisplayName string `json:"displayName"`
	Icon        string `json:"icon"`
}

// SPCAmount is a PaymentCurrencyAmount (W3C Payment Request §9.1).
type SPCAmount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// SPCRequest is what the page passes to new PaymentRequest() as the
// "secure-payment-confirmation" method's data (SPC
// SecurePaymentConfirmationRequest) and as the request's total. The
// challenge and credential ids are the ones of the WebAuthn options in the
// same answer.
type SPCRequest struct {
	RPID          string        `json:"rp_id"`
	CredentialIDs []string      `json:"credential_ids"` // base64url
	Challenge     string        `json:"challenge"`      // base64url
	PayeeName     string        `json:"payee_name"`
	Instrument    SPCInstrument `json:"instrument"`
	Total         SPCAmount     `json:"total"`
	TimeoutMS     int64         `json:"timeout"`
}

// spcEnabled says whether approvals offer SPC and enrollment registers
// payment credentials: SPC credentials must be user-verifying and
// discoverable (SPC "payment" extension, registration steps: userVerification
// and residentKey "required"), so only a relying party that requires UV offers it.
func (s *Service) spcEnabled() bool {
	return s.uv == protocol.VerificationRequired && s.cfg.SPCInstrument.DisplayName != "" && s.cfg.SPCInstrument.Icon != ""
}

// spcOffer is the SPC request for approving op, or nil when SPC does not
// apply: a rejection, an operation without payee name or amount (SPC needs a
// payee and a total), or SPC disabled.
func (s *Service) spcOffer(op store.Operation, d txsign.Decision, challenge []byte, creds []store.Credential) *SPCRequest {
	if !s.spcEnabled() || d != txsign.Approve || op.PayeeName == "" || op.Amount == "" || op.Currency == "" {
		return nil
	}
	ids := make([]string, 0, len(creds))
	for _, c := range creds {
		ids = append(ids, c.LookupKey)
	}
	return &SPCRequest{RPID: s.cfg.RPID, CredentialIDs: ids, Challenge: b64(challenge), PayeeName: op.PayeeName,
		Instrument: s.cfg.SPCInstrument, Total: SPCAmount{Currency: op.Currency, Value: op.Amount},
		TimeoutMS: s.cfg.CeremonyTimeout.Milliseconds()}
}

// collectedPaymentData is the "payment" member of an SPC assertion's
// clientDataJSON (SPC CollectedClientAdditionalPaymentData).
type collectedPaymentData struct {
	RPID        *string        `json:"rpId"`
	TopOrigin   *string        `json:"topOrigin"`
	PayeeName   *string        `json:"payeeName"`
	PayeeOrigin *string        `json:"payeeOrigin"`
	Total       *SPCAmount     `json:"total"`
	Instrument  *SPCInstrument `json:"instrument"`
}

// errSPCMismatch: what the browser showed is not the operation.
var errSPCMismatch = errors.New("secure payment confirmation: what the browser showed is not the operation")

// spcAssertion parses an assertion whose clientDataJSON type is
// "payment.get" (SPC CollectedClientPaymentData) and returns its payment
// member and a copy of parsed whose decoded type reads "webauthn.get", so that
// the library runs every remaining step of WebAuthn L3 §7.2 on it (challenge,
// origin, rpIdHash, flags, the signature over the raw clientDataJSON, which
// stays untouched, and the counter). SPC "Verifying an Authentication
// Assertion" replaces only the type step ("C.type is payment.get") and adds
// the payment checks (checkSPC).
func spcAssertion(parsed *protocol.ParsedCredentialAssertionData) (*protocol.ParsedCredentialAssertionData, collectedPaymentData, error) {
	var cd struct {
		Type    string                `json:"type"`
		Payment *collectedPaymentData `json:"payment"`
	}
	if err := json.Unmarshal(parsed.Raw.AssertionResponse.ClientDataJSON, &cd); err != nil || cd.Type != spcCeremonyType {
		return nil, collectedPaymentData{}, fmt.Errorf("%w: clientDataJSON is not a payment.get client data", txsign.ErrPossessionNotProven)
	}
	p := cd.Payment
	if p == nil || p.RPID == nil || p.TopOrigin == nil || p.Total == nil || p.Instrument == nil {
		return nil, collectedPaymentData{}, fmt.Errorf("%w: clientDataJSON has no complete payment member", txsign.ErrPossessionNotProven)
	}
	cp := *parsed
	cp.Response.CollectedClientData.Type = protocol.AssertCeremony
	return &cp, *p, nil
}

// checkSPC compares what the browser showed (the payment member of a
// verified SPC assertion) with what this ceremony offered (SPC "Verifying an
// Authentication Assertion": the relying party checks payment.rpId,
// topOrigin, payeeName/payeeOrigin, total and instrument are what it
// expected): this relying party, one of its own origins at the top, the
// operation's payee and total exactly (the dynamic-linking inputs), and the
// instrument offered. It returns what was shown, for the evidence.
func (s *Service) checkSPC(op store.Operation, want SPCInstrument, p collectedPaymentData) (map[string]any, error) {
	var bad []string
	if *p.RPID != s.cfg.RPID {
		bad = append(bad, "rpId")
	}
	if !slices.Contains(s.cfg.RPOrigins, *p.TopOrigin) {
		bad = append(bad, "topOrigin")
	}
	if p.PayeeName == nil || *p.PayeeName != op.PayeeName {
		bad = append(bad, "payeeName")
	}
	if p.PayeeOrigin != nil { // Signet never offers one: the payee is named, not an origin
		bad = append(bad, "payeeOrigin")
	}
	if *p.Total != (SPCAmount{Currency: op.Currency, Value: op.Amount}) {
		bad = append(bad, "total")
	}
	if *p.Instrument != want {
		bad = append(bad, "instrument")
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s differ", errSPCMismatch, strings.Join(bad, ", "))
	}
	return map[string]any{"payee_name": *p.PayeeName, "total": *p.Total, "instrument": p.Instrument.DisplayName,
		"top_origin": *p.TopOrigin}, nil
}

// isSPCAssertion reports whether an assertion claims to come from SPC.
func isSPCAssertion(parsed *protocol.ParsedCredentialAssertionData) bool {
	return string(parsed.Response.CollectedClientData.Type) == spcCeremonyType
}

var errSPCNotOffered = fault.New(fault.ErrUnauthenticated, "this approval was not started for Secure Payment Confirmation")
