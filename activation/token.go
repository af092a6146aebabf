package activation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// ceremonyToken is the ceremony kind of MAC tokens.
const ceremonyToken = "powerauth_token"

type tokenData struct {
	ActivationID  string `json:"activation_id"`
	SignatureType string `json:"signature_type"`
	Secret        []byte `json:"secret"` // sealed
}

// CreateToken answers /pa/v3/token/create (PowerAuth 3.x, MAC Token Based Authentication): a signed request
// (uriId /pa/token/create, any type) whose body is an activation-scope ECIES envelope (sh1
// /pa/token/create). The token remembers the signature type that created it and expires after TokenTTL.
// It returns the encrypted {tokenId, tokenSecret}.
func (s *Service) CreateToken(ctx context.Context, req SignedRequest) (*powerauth.Envelope, error) {
	req.URIID = URITokenCreate
	env, err := powerauth.ParseEnvelope(req.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	v, err := s.Verify(ctx, "powerauth.token.create", req, anyType)
	if err != nil {
		return nil, err
	}
	_, sess, err := s.openActivationEnvelope(ctx, v, powerauth.SharedInfo1CreateToken, env)
	if err != nil {
		return nil, err
	}
	secret, err := powerauth.NewTokenSecret()
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	sealed, err := s.sealer.Seal(secret[:], []byte(adToken+id))
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(tokenData{ActivationID: v.Activation.ID, SignatureType: v.Header.SignatureType.String(), Secret: sealed})
	now := s.now()
	if err := s.store.CreateCeremony(ctx, &store.Ceremony{ID: id, Kind: ceremonyToken, UserID: v.Activation.UserID,
		Data: data, ExpiresAt: now.Add(s.cfg.TokenTTL), CreatedAt: now}); err != nil {
		return nil, err
	}
	plain, _ := json.Marshal(map[string]any{"tokenId": id, "tokenSecret": secret[:]})
	return sess.SealResponse(plain, s.now())
}

// RemoveToken revokes a MAC token at once (PowerAuth Standard RESTful API, Remove Token: POST /pa/v3/token/remove,
// uriId /pa/token/remove, body {"requestObject":{"tokenId"}}; the SDK's removeAccessToken). The request is signed
// by the activation, which may remove only its own tokens; another's or an unknown id answers like a bad
// signature. The token's expiry is moved to now, so the next X-PowerAuth-Token with it is refused.
func (s *Service) RemoveToken(ctx context.Context, req SignedRequest) (string, error) {
	req.URIID = URITokenRemove
	var body struct {
		TokenID string `json:"tokenId"`
	}
	if err := decodeRequestObject(req.Body, &body); err != nil {
		return "", err
	}
	v, err := s.Verify(ctx, "powerauth.token.remove", req, anyType)
	if err != nil {
		return "", err
	}
	refuse := func(reason string) (string, error) {
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.token.remove", Outcome: audit.Failure, Reason: reason,
			Actor: "device", UserID: v.Activation.UserID, CredentialID: v.Activation.ID}); err != nil {
			return "", err
		}
		return "", fault.ErrUnauthenticated
	}
	if !powerauth.ValidUUID(body.TokenID) {
		return refuse("malformed token id")
	}
	now := s.now()
	_, err = s.store.UpdateCeremony(ctx, body.TokenID, func(c *store.Ceremony) error {
		var td tokenData
		if c.Kind != ceremonyToken || json.Unmarshal(c.Data, &td) != nil || td.ActivationID != v.Activation.ID {
			return store.ErrNotFound
		}
		if c.ExpiresAt.After(now) {
			c.ExpiresAt = now
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse("token of another activation, or unknown")
	case err != nil:
		return "", err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.token.remove", Outcome: audit.Success, Actor: "device",
		UserID: v.Activation.UserID, CredentialID: v.Activation.ID}); err != nil {
		return "", err
	}
	return body.TokenID, nil
}

// openActivationEnvelope opens an activation-scope request of a verified activation: 3.2 with the
// activation's server key, 3.3 with a temporary key issued for it.
func (s *Service) openActivationEnvelope(ctx context.Context, v *Signed, sh1 powerauth.SharedInfo1, env *powerauth.Envelope) ([]byte, *powerauth.ServerSession, error) {
	if v.Header.Version != powerauth.Version32 && v.Header.Version != powerauth.Version33 {
		return nil, nil, fmt.Errorf("%w: end-to-end encryption needs protocol 3.2 or 3.3", ErrEncryption)
	}
	cfg := powerauth.EciesConfig{Version: v.Header.Version, Scope: powerauth.ScopeActivation, SharedInfo1: sh1,
		ApplicationKey: v.Application.AppKey, ApplicationSecret: powerauth.ApplicationSecret(v.Application.AppSecret),
		ActivationID: v.Activation.ID, TransportKey: v.keys.derived.Transport}
	return s.openEnvelope(ctx, cfg, env, v.keys.serverPriv)
}

// TokenAuth is a request authenticated by X-PowerAuth-Token.
type TokenAuth struct {
	Activation    store.Credential
	TokenID       string
	SignatureType powerauth.SignatureType
}

// AuthenticateToken verifies an X-PowerAuth-Token header (PowerAuth 3.x, MAC Token Based Authentication):
// a known, unexpired token of an ACTIVE activation, a timestamp within TokenWindow of the server clock,
// a nonce not seen before within the window, and a digest that matches in constant time.
func (s *Service) AuthenticateToken(ctx context.Context, header string) (TokenAuth, error) {
	var ta TokenAuth
	fail := func(reason, userID, credID string) (TokenAuth, error) {
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.token.authenticate", Outcome: audit.Failure,
			Reason: reason, Actor: "device", UserID: userID, CredentialID: credID}); err != nil {
			return ta, err
		}
		return ta, fault.ErrUnauthenticated
	}
	th, err := powerauth.ParseTokenHeader(header)
	if err != nil {
		return fail("malformed "+powerauth.HeaderToken, "", "")
	}
	now := s.now()
	if d := now.Sub(time.UnixMilli(th.TimestampMs)); d > s.cfg.TokenWindow || d < -s.cfg.TokenWindow {
		return fail("token timestamp outside the window", "", "")
	}
	cer, err := s.store.GetCeremony(ctx, th.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown token", "", "")
	}
	if err != nil {
		return ta, err
	}
	var td tokenData
	if cer.Kind != ceremonyToken || json.Unmarshal(cer.Data, &td) != nil {
		return fail("unknown token", "", "")
	}
	if !now.Before(cer.ExpiresAt) {
		return fail("token expired", cer.UserID, td.ActivationID)
	}
	raw, err := s.sealer.Open(td.Secret, []byte(adToken+cer.ID))
	if err != nil {
		return ta, err
	}
	secret, err := powerauth.ParseTokenSecret(raw)
	if err != nil {
		return ta, err
	}
	if err := powerauth.VerifyTokenDigest(secret, th); err != nil {
		return fail("token digest does not verify", cer.UserID, td.ActivationID)
	}
	if err := s.recordOnce(ctx, "pa-token:", cer.ID+"|"+string(th.Nonce), 2*s.cfg.TokenWindow); err != nil {
		if errors.Is(err, ErrEncryption) {
			return fail("token nonce replayed", cer.UserID, td.ActivationID)
		}
		return ta, err
	}
	c, err := s.store.GetCredential(ctx, td.ActivationID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail("token of an unknown activation", cer.UserID, td.ActivationID)
		}
		return ta, err
	}
	if c.Status != store.StatusActive {
		return fail("activation is "+string(c.Status), c.UserID, c.ID)
	}
	t, err := powerauth.ParseSignatureType(td.SignatureType)
	if err != nil {
		return ta, err
	}
	return TokenAuth{Activation: c, TokenID: cer.ID, SignatureType: t}, nil
}
