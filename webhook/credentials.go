package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/signet-sca/signet/activation"
)

// CredentialHook asks the bank whether the credentials of a CUSTOM activation are right (PowerAuth 3.x,
// Activation via Custom Credentials: "the Intermediate Server Application verifies the credentials and looks
// up the user"). It POSTs {"type":"activation.credentials","application_id","identity_attributes"} to the
// bank's HTTPS endpoint, signed like a webhook delivery (Signet-Signature over the body), and requires the
// answer to be signed the same way, since the answer decides whose account gets a device:
//
//   - 200 {"user_id"} or {"external_id"}: accepted, the activation is for that user; "commit": true
//     activates it at once, otherwise it waits for the bank's commit;
//   - 403: refused (ErrRefused);
//   - anything else, a missing or wrong signature, or no answer in time: ErrHookUnavailable.
type CredentialHook struct {
	URL    string
	Secret Secret
	Client *http.Client // NewClient(timeout) when nil
	Now    func() time.Time
}

// EventCredentials is the Signet-Event-Type of a credential check.
const EventCredentials = "activation.credentials"

// Errors of CredentialHook.Check.
var (
	ErrRefused         = errors.New("webhook: the bank refused the credentials")
	ErrHookUnavailable = errors.New("webhook: the credential hook did not answer usably")
)

// Verdict is the bank's answer to an accepted credential check.
type Verdict struct {
	UserID     string `json:"user_id"`
	ExternalID string `json:"external_id"`
	Commit     bool   `json:"commit"`
}

// Check sends one credential check. The identity attributes are the device's, as decrypted.
func (h *CredentialHook) Check(ctx context.Context, applicationID string, identity map[string]string) (Verdict, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	client := h.Client
	if client == nil {
		client = NewClient(5 * time.Second)
	}
	body, err := json.Marshal(map[string]any{"type": EventCredentials, "application_id": applicationID, "identity_attributes": identity})
	if err != nil {
		return Verdict{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrHookUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventType, EventCredentials)
	req.Header.Set(HeaderSignature, Sign(h.Secret, now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrHookUnavailable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrHookUnavailable, err)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusForbidden:
	default:
		return Verdict{}, fmt.Errorf("%w: status %d", ErrHookUnavailable, resp.StatusCode)
	}
	if err := Verify(h.Secret, resp.Header.Get(HeaderSignature), raw, now(), 0); err != nil {
		return Verdict{}, fmt.Errorf("%w: answer signature: %v", ErrHookUnavailable, err)
	}
	if resp.StatusCode == http.StatusForbidden {
		return Verdict{}, ErrRefused
	}
	var v Verdict
	if err := json.Unmarshal(raw, &v); err != nil || (v.UserID == "") == (v.ExternalID == "") {
		return Verdict{}, fmt.Errorf("%w: the answer must name exactly one of user_id and external_id", ErrHookUnavailable)
	}
	return v, nil
}

// VerifyCredentials makes the hook an activation.CredentialVerifier: refused credentials are
// activation.ErrCredentialsRefused, every other failure activation.ErrCredentialsUnavailable.
func (h *CredentialHook) VerifyCredentials(ctx context.Context, applicationID string, identity map[string]string) (activation.CustomVerdict, error) {
	v, err := h.Check(ctx, applicationID, identity)
	switch {
	case errors.Is(err, ErrRefused):
		return activation.CustomVerdict{}, activation.ErrCredentialsRefused
	case err != nil:
		return activation.CustomVerdict{}, fmt.Errorf("%w: %v", activation.ErrCredentialsUnavailable, err)
	}
	return activation.CustomVerdict{UserID: v.UserID, ExternalID: v.ExternalID, Commit: v.Commit}, nil
}
