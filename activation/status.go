package activation

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// StatusResponse is the responseObject of /pa/v3/activation/status (SDK ActivationStatusResponse).
type StatusResponse struct {
	ActivationID        string         `json:"activationId"`
	EncryptedStatusBlob []byte         `json:"encryptedStatusBlob"`
	Nonce               []byte         `json:"nonce"`
	CustomObject        map[string]any `json:"customObject,omitempty"`
}

// Status answers /pa/v3/activation/status (PowerAuth 3.1+, Activation Status): the 32-byte status blob
// encrypted under KEY_TRANSPORT with an IV from the device's challenge and a fresh server nonce. An
// activation without keys yet (CREATED) or an unknown id gets 32 random bytes, as PowerAuth's server does,
// so the endpoint tells nothing to a caller without the transport key. Pending activations expire on read.
func (s *Service) Status(ctx context.Context, req StatusRequest) (StatusResponse, error) {
	resp := StatusResponse{ActivationID: req.ActivationID, Nonce: make([]byte, 16)}
	if _, err := rand.Read(resp.Nonce); err != nil {
		return resp, err
	}
	random := func() (StatusResponse, error) {
		resp.EncryptedStatusBlob = make([]byte, 32)
		_, err := rand.Read(resp.EncryptedStatusBlob)
		return resp, err
	}
	if !store.ValidID(req.ActivationID) {
		return random()
	}
	c, err := s.store.GetCredential(ctx, req.ActivationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Kind != store.KindPowerAuth) {
		return random()
	}
	if err != nil {
		return resp, err
	}
	if c, err = s.expireIfDue(ctx, c); err != nil {
		return resp, err
	}
	if len(c.PublicKey) == 0 {
		return random()
	}
	k, err := s.loadKeys(c)
	if err != nil {
		return resp, err
	}
	blob := powerauth.NewStatusBlob(powerauth.ActivationStatus(c.Status.Byte()), c.Counter, k.ctrData, k.derived.Transport,
		clampByte(c.FailedAttempts), clampByte(c.MaxFailedAttempts), uint8(s.cfg.Lookahead))
	resp.EncryptedStatusBlob, err = blob.Encrypt(k.derived.Transport, req.Challenge, resp.Nonce)
	return resp, err
}

func clampByte(n int) uint8 {
	if n < 0 {
		return 0
	}
	if n > 255 {
		return 255
	}
	return uint8(n)
}
