package webauthn

import (
	"fmt"
	"slices"

	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// AuthenticatorPolicy says whether an authenticator model (AAGUID) may prove
// user verification strongly enough to stand in for the passcode, and how it
// verifies users (RFC 8176 amr); *mds.Allowlist satisfies it.
type AuthenticatorPolicy interface {
	Check(aaguid string) (mds.Model, error)
}

// passkeyOnlyCreds returns, for approving op, the user's passkeys that may
// approve it alone: op's type is one of PasskeyOnlyTypes and the passkey's
// authenticator model passes the policy. Empty: the passcode is needed.
//
// The AAGUID is the one the authenticator reported at registration. Signet
// asks for no attestation, so it is the authenticator's claim, not a proof:
// the policy narrows which devices customers are steered to, the UV flag of
// every assertion is what is verified (docs/web-sdk.md, Passkey-only policy).
func (s *Service) passkeyOnlyCreds(op store.Operation, d txsign.Decision, creds []store.Credential) []store.Credential {
	if d != txsign.Approve || s.cfg.Authenticators == nil || !slices.Contains(s.cfg.PasskeyOnlyTypes, op.Type) {
		return nil
	}
	var out []store.Credential
	for _, c := range creds {
		if _, err := s.cfg.Authenticators.Check(decodePasskeyData(c.Data).AAGUID); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// passkeyOnlyFactor is the second factor of a passkey-only approval: the
// assertion's UV flag (WebAuthn L3 §6.1 flag UV, read from this assertion)
// from an authenticator model the policy allows now (it may have changed since
// the ceremony began). It returns the amr of the user verification.
func (s *Service) passkeyOnlyFactor(op store.Operation, c store.Credential, uv bool) (mds.Model, error) {
	if !uv {
		return mds.Model{}, fmt.Errorf("%w: passkey-only approval without user verification", txsign.ErrOperationOnly)
	}
	if s.cfg.Authenticators == nil || !slices.Contains(s.cfg.PasskeyOnlyTypes, op.Type) {
		return mds.Model{}, fmt.Errorf("%w: operation type %q is no longer approved by a passkey alone", txsign.ErrOperationOnly, op.Type)
	}
	m, err := s.cfg.Authenticators.Check(decodePasskeyData(c.Data).AAGUID)
	if err != nil {
		return m, fmt.Errorf("%w: %v", txsign.ErrOperationOnly, err)
	}
	return m, nil
}
