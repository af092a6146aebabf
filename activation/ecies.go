package activation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign/replay"
)

// ceremonyTemporaryKey is the ceremony kind of 3.3 temporary ECIES keys.
const ceremonyTemporaryKey = "powerauth_temporary_key"

// openEnvelope is the server side of one ECIES request (PowerAuth 3.2/3.3, End-To-End Encryption): the
// timestamp must be within the window, the private key is key32 for 3.2 and the temporary key the
// envelope names for 3.3, the MAC must verify, and the ephemeral key + nonce must not have been seen
// within twice the window (across replicas, through the replay store).
func (s *Service) openEnvelope(ctx context.Context, cfg powerauth.EciesConfig, env *powerauth.Envelope,
	key32 *powerauth.PrivateKey) ([]byte, *powerauth.ServerSession, error) {
	if env == nil {
		return nil, nil, fmt.Errorf("%w: no envelope", ErrEncryption)
	}
	if err := env.CheckTimestamp(s.now(), s.cfg.EciesWindow); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	priv := key32
	if cfg.Version == powerauth.Version33 {
		var err error
		if priv, err = s.temporaryKey(ctx, env.TemporaryKeyID, cfg.ApplicationKey, cfg.ActivationID); err != nil {
			return nil, nil, err
		}
	}
	if priv == nil {
		return nil, nil, fmt.Errorf("%w: no key for this request", ErrEncryption)
	}
	plain, sess, err := cfg.OpenRequest(priv, env)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	if err := s.recordOnce(ctx, "pa-ecies:", env.ReplayKey(), 2*s.cfg.EciesWindow); err != nil {
		return nil, nil, err
	}
	return plain, sess, nil
}

// recordOnce records key in the replay store; a key seen before is a replay.
func (s *Service) recordOnce(ctx context.Context, prefix, key string, ttl time.Duration) error {
	h := sha256.Sum256([]byte(key))
	err := s.replay.Record(ctx, prefix+base64.RawURLEncoding.EncodeToString(h[:]), ttl)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrExists):
		return fmt.Errorf("%w: replayed request", ErrEncryption)
	}
	return fault.Wrap(fault.ErrUnavailable, err, "replay store")
}

type temporaryKeyData struct {
	ApplicationKey string `json:"application_key"`
	ActivationID   string `json:"activation_id,omitempty"`
	PublicKey      string `json:"public_key"`
	PrivateKey     []byte `json:"private_key"` // sealed
}

// temporaryKey returns the private half of an unexpired 3.3 temporary key issued for exactly this
// application and scope (activationID "" for application scope).
func (s *Service) temporaryKey(ctx context.Context, id, appKey, activationID string) (*powerauth.PrivateKey, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("%w: malformed temporary key id", ErrEncryption)
	}
	c, err := s.store.GetCeremony(ctx, strings.ToLower(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown temporary key", ErrEncryption)
	}
	if err != nil {
		return nil, err
	}
	var d temporaryKeyData
	if c.Kind != ceremonyTemporaryKey || json.Unmarshal(c.Data, &d) != nil {
		return nil, fmt.Errorf("%w: unknown temporary key", ErrEncryption)
	}
	if !s.now().Before(c.ExpiresAt) {
		return nil, fmt.Errorf("%w: temporary key expired", ErrEncryption)
	}
	if d.ApplicationKey != appKey || !strings.EqualFold(d.ActivationID, activationID) {
		return nil, fmt.Errorf("%w: temporary key issued for another application or scope", ErrEncryption)
	}
	raw, err := s.sealer.Open(d.PrivateKey, []byte(adTemporaryKey+c.ID))
	if err != nil {
		return nil, err
	}
	return powerauth.ParsePrivateKey(raw)
}

// CreateTemporaryKey answers /pa/v3/keystore/create (PowerAuth 3.3, "Temporary Encryption Keys"): the
// request JWT is HS256 under the application secret (or KDF_INTERNAL(KEY_TRANSPORT, secret) with an
// activation id), its iat within the ECIES window when present; the answer is an ES256 JWT by the master
// key (or the activation's server key) carrying a new P-256 public key that lives TemporaryKeyTTL.
func (s *Service) CreateTemporaryKey(ctx context.Context, requestJWT string) (string, error) {
	fail := func(reason string, credID string) (string, error) {
		_ = s.audit.Record(ctx, audit.Event{Type: "powerauth.keystore.create", Outcome: audit.Failure, Reason: reason,
			Actor: "device", CredentialID: credID})
		return "", fmt.Errorf("%w: %s", ErrEncryption, reason)
	}
	claims, err := powerauth.ParseTemporaryKeyRequest(requestJWT)
	if err != nil {
		return fail("malformed request JWT", "")
	}
	app, err := s.appByKey(ctx, claims.ApplicationKey)
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown application key", "")
	}
	if err != nil {
		return "", err
	}
	scope, signer := powerauth.ScopeApplication, (*powerauth.PrivateKey)(nil)
	var transport powerauth.TransportKey
	actID := strings.ToLower(claims.ActivationID)
	if actID != "" {
		scope = powerauth.ScopeActivation
		c, err := s.store.GetCredential(ctx, actID)
		if errors.Is(err, store.ErrNotFound) {
			return fail("unknown activation", "")
		}
		if err != nil {
			return "", err
		}
		k, err := s.loadKeys(c)
		if err != nil || k.data.ApplicationID != app.ID || c.Status == store.StatusRemoved {
			return fail("activation cannot use encryption", c.ID)
		}
		signer, transport = k.serverPriv, k.derived.Transport
	} else if signer, err = s.masterKey(app); err != nil {
		return "", err
	}
	hsKey, err := powerauth.TemporaryKeyRequestKey(scope, powerauth.ApplicationSecret(app.AppSecret), transport)
	if err != nil {
		return "", err
	}
	if _, err := powerauth.VerifyTemporaryKeyRequest(requestJWT, hsKey); err != nil {
		return fail("request JWT signature", actID)
	}
	now := s.now()
	if iat := claims.IssuedAtMs; iat != 0 || claims.IssuedAt != 0 {
		t := time.UnixMilli(iat)
		if iat == 0 {
			t = time.Unix(claims.IssuedAt, 0)
		}
		if d := now.Sub(t); d > s.cfg.EciesWindow || d < -s.cfg.EciesWindow {
			return fail("request JWT issued outside the time window", actID)
		}
	}
	tmp, err := powerauth.GeneratePrivateKey()
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	sealed, err := s.sealer.Seal(tmp.Bytes(), []byte(adTemporaryKey+id))
	if err != nil {
		return "", err
	}
	pub := base64.StdEncoding.EncodeToString(tmp.PublicKey().Bytes())
	data, _ := json.Marshal(temporaryKeyData{ApplicationKey: app.AppKey, ActivationID: actID, PublicKey: pub, PrivateKey: sealed})
	exp := now.Add(s.cfg.TemporaryKeyTTL)
	if err := s.store.CreateCeremony(ctx, &store.Ceremony{ID: id, Kind: ceremonyTemporaryKey, Data: data,
		ExpiresAt: exp, CreatedAt: now}); err != nil {
		return "", err
	}
	return powerauth.SignTemporaryKeyResponse(signer, powerauth.TemporaryKeyResponse{KeyID: id, ApplicationKey: app.AppKey,
		ActivationID: claims.ActivationID, Challenge: claims.Challenge, PublicKey: pub, IssuedAt: now.Unix(),
		IssuedAtMs: now.UnixMilli(), ExpiresAt: exp.Unix(), ExpiresAtMs: exp.UnixMilli()})
}
