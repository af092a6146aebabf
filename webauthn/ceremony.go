package webauthn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Ceremony kinds. Enrollment links and sessions are rows of the store's
// ceremonies table; the WebAuthn ceremonies live in Config.Ceremonies.
const (
	kindEnrollment     = "enrollment"               // bank-issued single-use link
	kindSession        = "web_session"              // management session opened by a link
	kindRegistration   = "webauthn_registration"    // passkey registration challenge
	kindApproval       = "webauthn_approval"        // operation approval or rejection
	kindPasscodeChange = "webauthn_passcode_change" // passkey + old passcode → new passcode
)

// ceremonyData is the server-side state of a WebAuthn ceremony. The client
// only ever holds the ceremony id; the challenge, allowed credentials, UV
// requirement and expiry stay here (go-webauthn SessionData, stored verbatim).
type ceremonyData struct {
	Session    gowebauthn.SessionData `json:"session"`
	KEKID      string                 `json:"kek_id"`
	Decision   string                 `json:"decision,omitempty"`
	WebSession string                 `json:"web_session,omitempty"`
	// SPC is the instrument an approval offered for Secure Payment
	// Confirmation (spc.go); nil when it offered none.
	SPC *SPCInstrument `json:"spc,omitempty"`
	// PasskeyOnly: this approval may finish without the passcode (policy.go).
	PasskeyOnly bool `json:"passkey_only,omitempty"`
}

// errCeremony is the one answer for an unknown, foreign, used or expired
// ceremony: an authentication failure like any other.
var errCeremony = fault.New(fault.ErrUnauthenticated, "the ceremony is unknown, expired or already used; start again")

// errNoCeremony is errCeremony for a ceremony id that does not exist (audit.UnrecordedError).
var errNoCeremony = audit.Unrecorded(audit.UnknownCeremony, errCeremony)

func (s *Service) createCeremony(ctx context.Context, kind, userID, opID string, d ceremonyData) (store.Ceremony, error) {
	now := s.cfg.Now().UTC()
	// go-webauthn enforces SessionData.Expires on its own clock; loadCeremony
	// and the ceremony store enforce this one.
	exp := now.Add(s.cfg.CeremonyTimeout)
	raw, err := json.Marshal(d)
	if err != nil {
		return store.Ceremony{}, err
	}
	c := store.Ceremony{ID: uuid.NewString(), Kind: kind, UserID: userID, OperationID: opID, Data: raw,
		ExpiresAt: exp, CreatedAt: now}
	if err := s.cfg.Ceremonies.Put(ctx, c); err != nil {
		return store.Ceremony{}, err
	}
	return c, nil
}

// loadCeremony reads a live ceremony of kind and checks it belongs to userID
// (and opID when given). It does not consume it.
func (s *Service) loadCeremony(ctx context.Context, id, kind, userID, opID string) (store.Ceremony, ceremonyData, error) {
	if !store.ValidID(id) {
		return store.Ceremony{}, ceremonyData{}, fault.Invalid("ceremony_id", "is not a valid identifier")
	}
	c, err := s.cfg.Ceremonies.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Names nothing real: callers answer errCeremony without an audit record.
		return c, ceremonyData{}, errNoCeremony
	} else if err != nil {
		return c, ceremonyData{}, err
	}
	var d ceremonyData
	switch {
	case c.Kind != kind, userID != "" && c.UserID != userID, opID != "" && c.OperationID != opID:
		return c, d, errCeremony
	case c.ConsumedAt != nil, !s.cfg.Now().Before(c.ExpiresAt):
		return c, d, errCeremony
	}
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return c, d, fmt.Errorf("ceremony %s: %w", c.ID, err)
	}
	return c, d, nil
}

// consume marks a WebAuthn ceremony used, exactly once: of two concurrent
// finishes with the same ceremony, on any replicas, only one gets past this
// point (WebAuthn L3 §13.4.3: a challenge is used once).
func (s *Service) consume(ctx context.Context, id string) error {
	err := s.cfg.Ceremonies.Consume(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errCeremony
	}
	return err
}

// consumeSession ends a management session (a row of the store), exactly once.
func (s *Service) consumeSession(ctx context.Context, id string) error {
	_, err := s.store.ConsumeCeremony(ctx, id, s.cfg.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return errCeremony
	}
	return err
}

// Bearer secrets (enrollment link tokens, session tokens): 32 random bytes,
// base64url. Only SHA-256 of a token is stored, as the ceremony's lookup key.
const tokenLen = 43

func newToken() (string, string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	t := base64.RawURLEncoding.EncodeToString(b)
	return t, tokenHash(t), nil
}

func tokenHash(t string) string {
	sum := sha256.Sum256([]byte(t))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseToken checks the shape of an untrusted bearer token: exactly 43
// base64url characters (32 bytes).
func ParseToken(t string) (string, bool) {
	if len(t) != tokenLen {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != t {
		return "", false
	}
	return t, true
}

func kekIDString(id [4]byte) string { return hex.EncodeToString(id[:]) }
