package activation

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/powerauth"
)

// UnlockVault answers /pa/v3/vault/unlock (PowerAuth 3.x, Vault Unlocking): a two-factor signature (uriId
// /pa/vault/unlock) over an activation-scope ECIES envelope (sh1 /pa/vault/unlock); the answer carries
// KEY_ENCRYPTION_VAULT encrypted under KEY_TRANSPORT.
func (s *Service) UnlockVault(ctx context.Context, req SignedRequest) (*powerauth.Envelope, error) {
	req.URIID = URIVaultUnlock
	env, err := powerauth.ParseEnvelope(req.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	v, err := s.Verify(ctx, "powerauth.vault.unlock", req, twoFactor)
	if err != nil {
		return nil, err
	}
	plain, sess, err := s.openActivationEnvelope(ctx, v, powerauth.SharedInfo1VaultUnlock, env)
	if err != nil {
		return nil, err
	}
	reason, err := parseVaultRequest(plain)
	if err != nil {
		return nil, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.vault.unlocked", Outcome: audit.Success, Actor: "device",
		UserID: v.Activation.UserID, CredentialID: v.Activation.ID, Evidence: map[string]any{"reason": reason}}); err != nil {
		return nil, err
	}
	out, _ := json.Marshal(map[string]any{"activationId": v.Activation.ID,
		"encryptedVaultEncryptionKey": powerauth.EncryptVaultKey(v.keys.derived.Vault, v.keys.derived.Transport)})
	return sess.SealResponse(out, s.now())
}
