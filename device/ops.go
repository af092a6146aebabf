package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/signet-sca/signet/powerauth"
)

// Operation is an operation as the mobile-token API shows it.
type Operation struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	Data                 string `json:"data"`
	Status               string `json:"status"`
	OperationCreated     string `json:"operationCreated"`
	OperationExpires     string `json:"operationExpires"`
	AllowedSignatureType struct {
		Type     string   `json:"type"`
		Variants []string `json:"variants"`
	} `json:"allowedSignatureType"`
	FormData struct {
		Title      string `json:"title"`
		Message    string `json:"message"`
		Attributes []struct {
			Type     string          `json:"type"`
			ID       string          `json:"id"`
			Label    string          `json:"label"`
			Amount   json.RawMessage `json:"amount,omitempty"`
			Currency string          `json:"currency,omitempty"`
			// AmountFormatted and CurrencyFormatted are what an app shows (in the Client's AcceptLanguage).
			AmountFormatted   string `json:"amountFormatted,omitempty"`
			CurrencyFormatted string `json:"currencyFormatted,omitempty"`
			Value             string `json:"value,omitempty"`
			Note              string `json:"note,omitempty"`
		} `json:"attributes"`
	} `json:"formData"`
}

// Cancel reasons of the mobile-token API.
const (
	ReasonUnknown             = "UNKNOWN"
	ReasonIncorrectData       = "INCORRECT_DATA"
	ReasonUnexpectedOperation = "UNEXPECTED_OPERATION"
)

// withToken runs call with X-PowerAuth-Token, creating a possession token first when the state has none,
// and once more when the server no longer knows the token (expired or removed).
func (c *Client) withToken(ctx context.Context, st *State, call func(header string) error) error {
	for attempt := 0; ; attempt++ {
		if st.Token == nil {
			if _, err := c.CreateToken(ctx, st, powerauth.SignaturePossession, ""); err != nil {
				return err
			}
		}
		hdr, err := c.TokenHeader(st)
		if err != nil {
			return err
		}
		err = call(hdr)
		if attempt == 0 && IsCode(err, "POWERAUTH_AUTH_FAIL") {
			st.Token = nil
			continue
		}
		return err
	}
}

// mobileResponse is a mobile-token answer: {"status":"OK","currentTimestamp":...,"responseObject":...}.
type mobileResponse[T any] struct {
	Status           string `json:"status"`
	CurrentTimestamp string `json:"currentTimestamp"`
	ResponseObject   T      `json:"responseObject"`
}

// ServerTime parses a date of the mobile-token API ("2023-02-10T12:30:42+0000": currentTimestamp,
// timestampCreated, operationCreated).
func ServerTime(s string) (time.Time, error) { return time.Parse("2006-01-02T15:04:05-0700", s) }

// ListOperations lists the pending operations of the activation's user (/api/auth/token/app/operation/list).
func (c *Client) ListOperations(ctx context.Context, st *State) ([]Operation, error) {
	ops, _, err := c.ListOperationsAt(ctx, st)
	return ops, err
}

// ListOperationsAt is ListOperations that also returns the server's clock (currentTimestamp), against which
// the SDKs count down operationExpires.
func (c *Client) ListOperationsAt(ctx context.Context, st *State) ([]Operation, time.Time, error) {
	var resp mobileResponse[[]Operation]
	err := c.withToken(ctx, st, func(hdr string) error {
		return c.post(ctx, "/api/auth/token/app/operation/list", map[string]string{powerauth.HeaderToken: hdr}, []byte("{}"), &resp)
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	at, err := ServerTime(resp.CurrentTimestamp)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("device: currentTimestamp: %w", err)
	}
	return resp.ResponseObject, at, nil
}

// History lists the user's operations of every status (/api/auth/token/app/operation/history): signed with
// possession + knowledge, uriId /operation/history, over the body {} as the mobile-token SDKs send it
// (OperationApi.history, WMTOperationEndpoints.History).
func (c *Client) History(ctx context.Context, st *State, pin string) ([]Operation, error) {
	var resp okResponse[[]Operation]
	err := c.signedPost(ctx, st, "/api/auth/token/app/operation/history", uriOperationHistory, []byte("{}"),
		powerauth.SignaturePossessionKnowledge, pin, &resp)
	return resp.ResponseObject, err
}

// OperationDetail returns one operation (/api/auth/token/app/operation/detail).
func (c *Client) OperationDetail(ctx context.Context, st *State, id string) (Operation, error) {
	return c.operationByID(ctx, st, "/api/auth/token/app/operation/detail", id)
}

// ClaimOperation claims an operation the user opened from a QR code or a deep link
// (/api/auth/token/app/operation/detail/claim): from then on only this activation sees and decides it.
func (c *Client) ClaimOperation(ctx context.Context, st *State, id string) (Operation, error) {
	return c.operationByID(ctx, st, "/api/auth/token/app/operation/detail/claim", id)
}

func (c *Client) operationByID(ctx context.Context, st *State, path, id string) (Operation, error) {
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": id}})
	var resp mobileResponse[Operation]
	err := c.withToken(ctx, st, func(hdr string) error {
		return c.post(ctx, path, map[string]string{powerauth.HeaderToken: hdr}, body, &resp)
	})
	return resp.ResponseObject, err
}

// Approve authorizes op with possession + knowledge (/api/auth/token/app/operation/authorize): the signed
// body carries the operation id and the operation data exactly as the server showed it.
func (c *Client) Approve(ctx context.Context, st *State, op Operation, pin string) error {
	return c.approve(ctx, st, op, powerauth.SignaturePossessionKnowledge, pin)
}

// ApproveWithBiometry authorizes op with possession + biometry.
func (c *Client) ApproveWithBiometry(ctx context.Context, st *State, op Operation) error {
	return c.approve(ctx, st, op, powerauth.SignaturePossessionBiometry, "")
}

func (c *Client) approve(ctx context.Context, st *State, op Operation, t powerauth.SignatureType, pin string) error {
	if op.ID == "" || op.Data == "" {
		return errors.New("device: the operation has no id or data; fetch it first")
	}
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": op.ID, "data": op.Data}})
	return c.signedPost(ctx, st, "/api/auth/token/app/operation/authorize", uriOperationAuthorize, body, t, pin, nil)
}

// Reject cancels an operation with a possession signature (/api/auth/token/app/operation/cancel).
func (c *Client) Reject(ctx context.Context, st *State, id, reason string) error {
	if reason == "" {
		reason = ReasonUnknown
	}
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": id, "reason": reason}})
	return c.signedPost(ctx, st, "/api/auth/token/app/operation/cancel", uriOperationCancel, body, powerauth.SignaturePossession, "", nil)
}

// OfflineCode verifies a scanned offline QR payload (signed by the master key or the activation's server
// key) and computes the code the user types at the bank: possession + knowledge, 8 digits per factor
// (PowerAuth 3.x, Offline Signatures). The local counter advances; save the state afterwards.
func OfflineCode(st *State, qr, pin string) (powerauth.OfflinePayload, string, error) {
	master, err := st.masterPublicKey()
	if err != nil {
		return powerauth.OfflinePayload{}, "", err
	}
	server, err := st.serverPublicKey()
	if err != nil {
		return powerauth.OfflinePayload{}, "", err
	}
	p, err := powerauth.VerifyOfflinePayload(qr, master, server)
	if err != nil {
		return p, "", err
	}
	keys, err := st.signatureKeys(powerauth.SignaturePossessionKnowledge, pin, false)
	if err != nil {
		return p, "", err
	}
	ctr, err := st.nextCounter()
	if err != nil {
		return p, "", err
	}
	code, err := powerauth.ComputeOfflineCode(p, keys, powerauth.SignaturePossessionKnowledge, ctr, 8)
	return p, code, err
}

// RegisterPushToken registers the phone's platform push token for this activation
// (/api/push/device/register/token, X-PowerAuth-Token): platform "android" or "ios" as the mobile-token SDKs
// send it (or "huawei", "fcm", "apns", "hms"), token the value FCM, APNs or HMS gave the app.
func (c *Client) RegisterPushToken(ctx context.Context, st *State, platform, token string) error {
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"platform": platform, "token": token}})
	return c.withToken(ctx, st, func(hdr string) error {
		return c.post(ctx, "/api/push/device/register/token", map[string]string{powerauth.HeaderToken: hdr}, body, nil)
	})
}
