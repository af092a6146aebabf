package loadbench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/txsign"
)

type client struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	created []string // credentials this run registered, removed at its end unless Config.Keep
}

// registered remembers a credential this run created.
func (c *client) registered(credentialID string) {
	c.mu.Lock()
	c.created = append(c.created, credentialID)
	c.mu.Unlock()
}

// cleanUp removes every credential this run registered (DELETE /v1/credentials/{id}, the bank's own call)
// and reports how many. The bench's users keep stable external ids (bench-<flow>-<n>), so later runs reuse
// them rather than adding new customers.
func (c *client) cleanUp(ctx context.Context) (int, error) {
	c.mu.Lock()
	ids := c.created
	c.created = nil
	c.mu.Unlock()
	for i, id := range ids {
		if err := c.call(ctx, "DELETE", c.cfg.Server+"/v1/credentials/"+id, true, nil, nil, nil); err != nil {
			return i, fmt.Errorf("removing bench credential %s: %w", id, err)
		}
	}
	return len(ids), nil
}

type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// call sends JSON and decodes a JSON answer; private calls carry the API key.
func (c *client) call(ctx context.Context, method, url string, private bool, in, out any, header map[string]string) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if private {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// virtualUser is one bank customer with a registered device key.
type virtualUser struct {
	c      *client
	userID string
	credID string
	key    *ecdsa.PrivateKey
}

func (c *client) newVirtualUser(ctx context.Context, name string) (*virtualUser, error) {
	var u struct{ ID string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/users", true, map[string]string{"external_id": "bench-" + name}, &u, nil); err != nil {
		return nil, err
	}
	var code struct{ Code string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/users/"+u.ID+"/registration-codes", true, nil, &code, nil); err != nil {
		return nil, err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	jwk := map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:])}
	var reg struct {
		CredentialID string `json:"credential_id"`
	}
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/devices", false, map[string]any{"registration_code": code.Code,
		"public_key": jwk, "label": "signet bench", "platform": "bench"}, &reg, nil); err != nil {
		return nil, err
	}
	c.registered(reg.CredentialID)
	return &virtualUser{c: c, userID: u.ID, credID: reg.CredentialID, key: key}, nil
}

type signingData struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Payee struct {
		Account string `json:"account"`
		Name    string `json:"name"`
	} `json:"payee"`
	Amount    string    `json:"amount"`
	Currency  string    `json:"currency"`
	Nonce     string    `json:"nonce"`
	ExpiresAt time.Time `json:"expires_at"`
	DL        string    `json:"dl"`
}

// Bench payments go to this payee; the gateway flow binds to it.
const (
	benchAccount  = "DE89370400440532013000"
	benchAmount   = "12.34"
	benchCurrency = "EUR"
)

// approveOnce is the whole device-key flow: the bank creates an operation,
// the device reads the signing data, recomputes DL itself, signs, approves.
func (vu *virtualUser) approveOnce(ctx context.Context) (string, error) {
	_, token, err := vu.approve(ctx)
	return token, err
}

func (vu *virtualUser) approve(ctx context.Context) (string, string, error) {
	op, err := vu.create(ctx)
	if err != nil {
		return "", "", err
	}
	return vu.finish(ctx, op)
}

// pendingOp is an operation the bank created, as the device learns of it from the bank's push.
type pendingOp struct{ ID, Capability string }

// create is the bank's half: a payment operation for the user.
func (vu *virtualUser) create(ctx context.Context) (pendingOp, error) {
	c := vu.c
	var op pendingOp
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/operations", true, map[string]any{"user_id": vu.userID, "type": "payment",
		"payee": map[string]string{"account": benchAccount, "name": "Bench Payee"}, "amount": benchAmount, "currency": benchCurrency},
		&op, nil); err != nil {
		return pendingOp{}, fmt.Errorf("create operation: %w", err)
	}
	return op, nil
}

// finish is the device's half: read the signing data, recompute DL, sign, approve.
func (vu *virtualUser) finish(ctx context.Context, op pendingOp) (string, string, error) {
	c := vu.c
	// The device has the operation's id and capability from the bank's push.
	capability := map[string]string{"Authorization": "Signet-Capability " + op.Capability}
	var sd signingData
	if err := c.call(ctx, "GET", c.cfg.Server+"/v1/operations/"+op.ID+"/signing-data?credential_id="+vu.credID, false, nil, &sd, capability); err != nil {
		return op.ID, "", fmt.Errorf("signing data: %w", err)
	}
	dl := txsign.ComputeDL(txsign.DLInput{ID: sd.ID, Type: sd.Type, PayeeAccount: sd.Payee.Account, PayeeName: sd.Payee.Name,
		Amount: sd.Amount, Currency: sd.Currency, Nonce: sd.Nonce, ExpiresAt: sd.ExpiresAt})
	if txsign.EncodeDigest(dl) != sd.DL {
		return op.ID, "", errors.New("dl mismatch: the server's digest is not what the device computes")
	}
	h := sha256.Sum256(dl[:])
	sig, err := ecdsa.SignASN1(rand.Reader, vu.key, h[:])
	if err != nil {
		return op.ID, "", err
	}
	var res struct{ Token string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/operations/"+op.ID+"/approve", false, map[string]string{
		"credential_id": vu.credID, "signature": base64.RawURLEncoding.EncodeToString(sig)}, &res, capability); err != nil {
		return op.ID, "", fmt.Errorf("approve: %w", err)
	}
	return op.ID, res.Token, nil
}

// Client is a bank backend plus devices talking to one Signet, for harnesses
// that drive flows themselves (the fault runs).
type Client struct {
	c   *client
	app application // the PowerAuth application of PowerAuthUser, created once
}

// NewClient returns a client for cfg.Server with cfg.APIKey.
func NewClient(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.GatewayPath == "" {
		cfg.GatewayPath = "/payments"
	}
	return &Client{c: &client{cfg: cfg, http: cfg.HTTPClient}}
}

// VirtualUser is a customer with a registered device key.
type VirtualUser struct{ vu *virtualUser }

// NewUser creates a user and registers a device key for it.
func (c *Client) NewUser(ctx context.Context, name string) (*VirtualUser, error) {
	vu, err := c.c.newVirtualUser(ctx, name)
	return &VirtualUser{vu: vu}, err
}

// Approve runs one device-key approval and returns the operation id (set as
// soon as the operation exists) and the token.
func (v *VirtualUser) Approve(ctx context.Context) (opID, token string, err error) {
	return v.vu.approve(ctx)
}

// PendingOperation is an operation the bank created and the device has not approved yet.
type PendingOperation struct{ op pendingOp }

// ID is the operation's id.
func (p PendingOperation) ID() string { return p.op.ID }

// Create is the bank's half of Approve: it creates a payment operation for the user, which
// waiters (long-poll, event stream) can watch before Finish approves it.
func (v *VirtualUser) Create(ctx context.Context) (PendingOperation, error) {
	op, err := v.vu.create(ctx)
	return PendingOperation{op}, err
}

// Finish is the device's half of Approve: signing data, signature, approval; it returns the token.
func (v *VirtualUser) Finish(ctx context.Context, p PendingOperation) (token string, err error) {
	_, token, err = v.vu.finish(ctx, p.op)
	return token, err
}

// Consume burns a token through Signet's consume endpoint.
func (c *Client) Consume(ctx context.Context, token string) error {
	return c.c.call(ctx, "POST", c.c.cfg.Server+"/v1/tokens/consume", true, map[string]string{"token": token}, nil, nil)
}

// PowerAuthUser is a customer with an ACTIVE PowerAuth activation on a phone
// simulated by the Go device SDK.
type PowerAuthUser struct{ u *paUser }

// NewPowerAuthUser creates a user and activates a phone for it (the first
// call also creates the PowerAuth application).
func (c *Client) NewPowerAuthUser(ctx context.Context, name string) (*PowerAuthUser, error) {
	u, err := c.c.newPowerAuthUser(ctx, &c.app, name)
	return &PowerAuthUser{u: u}, err
}

// Approve runs one PowerAuth approval (operation created by the bank, read and
// signed on the phone) and returns the operation id, set as soon as it exists.
func (u *PowerAuthUser) Approve(ctx context.Context) (opID string, err error) {
	return u.u.approve(ctx)
}

// PreparedOperation is an operation the phone has read but not signed yet.
type PreparedOperation struct{ op device.Operation }

// ID is the operation's id.
func (p PreparedOperation) ID() string { return p.op.ID }

// Prepare runs Approve's steps before the signature: the bank creates the
// operation and the phone reads it.
func (u *PowerAuthUser) Prepare(ctx context.Context) (PreparedOperation, error) {
	op, err := u.u.prepare(ctx)
	return PreparedOperation{op}, err
}

// Sign approves a prepared operation (the phone's counter moves whatever the answer).
func (u *PowerAuthUser) Sign(ctx context.Context, p PreparedOperation) error {
	return u.u.sign(ctx, p.op)
}

// PayThroughGateway sends the payment a token approved through cfg.Gateway,
// as the gateway flow does.
func (c *Client) PayThroughGateway(ctx context.Context, token string) error {
	return c.c.payThroughGateway(ctx, token)
}

// OperationToken reads an operation's status and token as the bank does.
func (c *Client) OperationToken(ctx context.Context, id string) (status, token string, err error) {
	var op struct{ Status, Token string }
	err = c.c.call(ctx, "GET", c.c.cfg.Server+"/v1/operations/"+id, true, nil, &op, nil)
	return op.Status, op.Token, err
}

// Status is the HTTP status of a failed call, the bank's or the phone's (0
// for a transport error).
func Status(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	var de *device.Error
	if errors.As(err, &de) {
		return de.HTTPStatus
	}
	return 0
}

// payUpstream sends the gateway flow's payment straight to the upstream,
// without a token: what the client and the upstream cost without a gateway.
func (c *client) payUpstream(ctx context.Context) error {
	return c.call(ctx, "POST", strings.TrimRight(c.cfg.Upstream, "/")+c.cfg.GatewayPath, false,
		map[string]string{"amount": benchAmount, "currency": benchCurrency, "creditor_account": benchAccount}, nil, nil)
}

// payThroughNginx sends the payment through nginx at base: the body, and its
// binding in the headers nginx's auth_request can pass to the check (the
// floor gets the same headers and no token).
func (c *client) payThroughNginx(ctx context.Context, base, token string) error {
	h := map[string]string{"Payment-Amount": benchAmount, "Payment-Currency": benchCurrency, "Payment-Payee-Account": benchAccount}
	if token != "" {
		h["Txn-Token"] = token
	}
	return c.call(ctx, "POST", strings.TrimRight(base, "/")+c.cfg.GatewayPath, false,
		map[string]string{"amount": benchAmount, "currency": benchCurrency, "creditor_account": benchAccount}, nil, h)
}

// payThroughGateway sends the payment the token approved through the gateway.
func (c *client) payThroughGateway(ctx context.Context, token string) error {
	return c.call(ctx, "POST", strings.TrimRight(c.cfg.Gateway, "/")+c.cfg.GatewayPath, false,
		map[string]string{"amount": benchAmount, "currency": benchCurrency, "creditor_account": benchAccount}, nil,
		map[string]string{"Authorization": "Bearer " + token})
}
