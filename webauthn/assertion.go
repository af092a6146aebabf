package webauthn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// AssertionOptions start an assertion ceremony (approval, rejection or
// passcode change).
type AssertionOptions struct {
	CeremonyID string                        `json:"ceremony_id"`
	PublicKey  *protocol.CredentialAssertion `json:"public_key"`
	HPKE       *HPKEParams                   `json:"hpke,omitempty"`
	// SPC, when set, lets a browser that supports Secure Payment
	// Confirmation ask for the assertion through it (spc.go).
	SPC *SPCRequest `json:"spc,omitempty"`
	// PasscodeOptional: the operation's type lets a passkey with user
	// verification approve it alone (policy.go); a passcode sent anyway is checked.
	PasscodeOptional bool   `json:"passcode_optional,omitempty"`
	ExpiresAt        string `json:"expires_at"`
}

// verified is the outcome of one assertion check.
type verified struct {
	credential *gowebauthn.Credential
	uv         bool
	clone      bool
}

var errClone = errors.New("sign counter did not increase: possible cloned authenticator")

// verifyAssertion checks an assertion against server-side session data
// (WebAuthn L3 §7.2) with go-webauthn, then what the library leaves to the
// relying party: the expected challenge, recomputed by the caller from its
// own records, must be the stored one; UV is read from this assertion's
// authenticator data (§7.2 step 17), not from the registration; a sign
// counter that does not increase (§7.2 step 21) is a failure, reported as
// clone so the caller blocks the credential.
func (s *Service) verifyAssertion(u store.User, creds []store.Credential, sd gowebauthn.SessionData, expected []byte,
	parsed *protocol.ParsedCredentialAssertionData) (verified, error) {
	stored, err := base64.RawURLEncoding.DecodeString(sd.Challenge)
	if err != nil || subtle.ConstantTimeCompare(stored, expected) != 1 {
		return verified{}, errors.New("ceremony challenge does not match the expected challenge")
	}
	sd.Challenge = base64.RawURLEncoding.EncodeToString(expected)
	c, err := s.wa.ValidateLogin(newWAUser(u, creds), sd, parsed)
	if err != nil {
		return verified{}, fmt.Errorf("assertion: %s", protocolDetail(err))
	}
	v := verified{credential: c, uv: parsed.Response.AuthenticatorData.Flags.HasUserVerified()}
	if s.uv == protocol.VerificationRequired && !v.uv {
		return v, errors.New("assertion: user verification required but not performed")
	}
	if c.Authenticator.CloneWarning {
		v.clone = true
		return v, fmt.Errorf("%w (stored %d, asserted %d)", errClone, storedCounter(creds, c.ID), parsed.Response.AuthenticatorData.Counter)
	}
	return v, nil
}

func storedCounter(creds []store.Credential, id []byte) int64 {
	for _, c := range creds {
		if c.LookupKey == lookupKey(id) {
			return c.Counter
		}
	}
	return -1
}

// assertionEvidence is what an auditor needs to re-verify the assertion:
// the signed bytes are authenticatorData ‖ SHA-256(clientDataJSON)
// (WebAuthn L3 §6.3.3 step 11), signed with the COSE public key.
func assertionEvidence(parsed *protocol.ParsedCredentialAssertionData, cred store.Credential) (signed, sig []byte, extra map[string]any) {
	authData := []byte(parsed.Raw.AssertionResponse.AuthenticatorData)
	cdj := []byte(parsed.Raw.AssertionResponse.ClientDataJSON)
	h := sha256.Sum256(cdj)
	signed = append(append([]byte(nil), authData...), h[:]...)
	f := parsed.Response.AuthenticatorData.Flags
	extra = map[string]any{
		"credential_id":      parsed.ID,
		"authenticator_data": base64.RawURLEncoding.EncodeToString(authData),
		"client_data_json":   base64.RawURLEncoding.EncodeToString(cdj),
		"up":                 f.HasUserPresent(), "uv": f.HasUserVerified(),
		"backup_eligible": f.HasBackupEligible(), "backup_state": f.HasBackupState(),
		"sign_count": parsed.Response.AuthenticatorData.Counter, "aaguid": decodePasskeyData(cred.Data).AAGUID,
	}
	return signed, parsed.Response.Signature, extra
}

// afterAssertion records what a verified (or clone-suspected) assertion
// changes on the credential: a counter regression blocks it with
// CLONE_SUSPECTED; a good assertion advances the counter (unless
// counterStored: a decision stored it with the credential's use) and the
// backup state. cred is the copy read before the attempt: the first
// compare-and-swap starts from it, nothing is written when nothing changed.
// An error means the update's outcome is unknown; callers return it.
func (s *Service) afterAssertion(ctx context.Context, actor string, cred store.Credential, parsed *protocol.ParsedCredentialAssertionData, v verified, ok, counterStored bool) error {
	now := s.cfg.Now().UTC()
	switch {
	case v.clone:
		_, err := s.store.UpdateCredentialFrom(ctx, cred, func(c *store.Credential) error {
			if c.Status != store.StatusActive {
				return errUnchanged
			}
			return c.Transition(store.StatusBlocked, store.ReasonCloneSuspected, now)
		})
		if errors.Is(err, errUnchanged) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("block clone-suspected passkey: %w", err)
		}
		return s.audit.Record(ctx, audit.Event{Type: "credential.block", Outcome: audit.Success, Actor: "system",
			Reason: string(store.ReasonCloneSuspected), UserID: cred.UserID, CredentialID: cred.ID,
			Evidence: map[string]any{"stored_counter": cred.Counter, "asserted_counter": parsed.Response.AuthenticatorData.Counter, "by": actor}})
	case ok:
		count := int64(parsed.Response.AuthenticatorData.Counter)
		bs := parsed.Response.AuthenticatorData.Flags.HasBackupState()
		unchanged := func(c store.Credential) bool {
			return (counterStored || count <= c.Counter) && decodePasskeyData(c.Data).BackupState == bs
		}
		if unchanged(cred) { // as read: no store call at all
			return nil
		}
		_, err := s.store.UpdateCredentialFrom(ctx, cred, func(c *store.Credential) error {
			if unchanged(*c) {
				return errUnchanged
			}
			d := decodePasskeyData(c.Data)
			c.Counter = max(c.Counter, count)
			d.BackupState = bs
			c.Data, _ = json.Marshal(d)
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			return fmt.Errorf("update passkey counter: %w", err)
		}
	}
	return nil
}

var errUnchanged = errors.New("unchanged")

// credentialFor finds the stored passkey an assertion names (by its
// credential id, the unique lookup key).
func (s *Service) credentialFor(ctx context.Context, parsed *protocol.ParsedCredentialAssertionData) (store.Credential, error) {
	c, err := s.store.GetCredentialByLookupKey(ctx, store.KindPasskey, lookupKey(parsed.RawID))
	if errors.Is(err, store.ErrNotFound) {
		return store.Credential{}, nil
	}
	return c, err
}

func parseAssertion(raw []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(raw) == 0 {
		return nil, fault.Invalid("credential", "is required")
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return nil, fault.Invalid("credential", "is not a WebAuthn assertion response (PublicKeyCredential.toJSON())")
	}
	return p, nil
}
