package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/signet-sca/signet/powerauth"
)

// Client talks to a Signet server the way the PowerAuth mobile SDK does.
type Client struct {
	// BaseURL is the server, e.g. http://localhost:8080.
	BaseURL string
	// HTTP defaults to a client with a 30 s timeout.
	HTTP *http.Client
	// Version is the protocol version of new activations: 3.3 (default, temporary keys) or 3.2.
	Version powerauth.Version
	// Platform and DeviceInfo are sent at activation ("Android", "iOS"; a model name).
	Platform, DeviceInfo string
	// Now is the device clock (tests skew it); nil means time.Now.
	Now func() time.Time
	// Persist, when set, is called whenever the state changes before a request goes out (the counter moved,
	// a token was created), so that a crash never makes the device reuse a counter value.
	Persist func(*State) error
	// RememberPIN keeps the knowledge key a PIN unlocked in memory, per State,
	// so the PBKDF2 stretching (10,000 rounds, about 2 ms) runs once per PIN
	// instead of at every signature. For load generators (signet bench), whose
	// simulated phones would otherwise spend the server machine's CPU; an app
	// asks for the PIN, and stretches it, at every signature.
	RememberPIN bool
	// AcceptLanguage is sent with every request (the SDKs send the app's locale); the server formats
	// mobile-token amounts in it. Empty: no header (the server uses English).
	AcceptLanguage string

	mu   sync.Mutex
	temp map[string]tempKey
}

type tempKey struct {
	id  string
	pub *powerauth.PublicKey
	exp time.Time
}

// Error is an error answer of the server in PowerAuth's envelope.
type Error struct {
	HTTPStatus int
	Code       string
	Message    string
	// CurrentRecoveryPukIndex is the PUK the user must type next, after a wrong PUK of a recovery
	// activation (0 when the server did not say).
	CurrentRecoveryPukIndex int
}

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.HTTPStatus, e.Code, e.Message)
}

// IsCode reports whether err is a server error with the PowerAuth code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) persist(st *State) error {
	if c.Persist != nil {
		return c.Persist(st)
	}
	return nil
}

// post sends body to path and decodes a 200 answer into out (when not nil).
func (c *Client) post(ctx context.Context, path string, header map[string]string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.AcceptLanguage != "" {
		req.Header.Set("Accept-Language", c.AcceptLanguage)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var env struct {
			ResponseObject struct {
				Code                    string `json:"code"`
				Message                 string `json:"message"`
				CurrentRecoveryPukIndex int    `json:"currentRecoveryPukIndex"`
			} `json:"responseObject"`
		}
		_ = json.Unmarshal(raw, &env)
		return &Error{HTTPStatus: resp.StatusCode, Code: env.ResponseObject.Code, Message: env.ResponseObject.Message,
			CurrentRecoveryPukIndex: env.ResponseObject.CurrentRecoveryPukIndex}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("device: unexpected answer from %s: %w", path, err)
	}
	return nil
}

// okResponse is {"status":"OK","responseObject":...}.
type okResponse[T any] struct {
	Status         string `json:"status"`
	ResponseObject T      `json:"responseObject"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// eciesTarget is who a request is encrypted for.
type eciesTarget struct {
	appKey       string
	appSecret    powerauth.ApplicationSecret
	master       *powerauth.PublicKey
	activationID string                 // activation scope
	server       *powerauth.PublicKey   // activation scope
	transport    powerauth.TransportKey // activation scope
}

func (t eciesTarget) scope() powerauth.EciesScope {
	if t.activationID != "" {
		return powerauth.ScopeActivation
	}
	return powerauth.ScopeApplication
}

// seal encrypts plain for t (PowerAuth 3.2/3.3 End-To-End Encryption): to the master or server key for
// 3.2, to a temporary key from /pa/v3/keystore/create for 3.3.
func (c *Client) seal(ctx context.Context, v powerauth.Version, t eciesTarget, sh1 powerauth.SharedInfo1, plain []byte) (*powerauth.Envelope, *powerauth.ClientSession, error) {
	cfg := powerauth.EciesConfig{Version: v, Scope: t.scope(), SharedInfo1: sh1, ApplicationKey: t.appKey,
		ApplicationSecret: t.appSecret, ActivationID: t.activationID, TransportKey: t.transport}
	pub := t.master
	if t.scope() == powerauth.ScopeActivation {
		pub = t.server
	}
	if v == powerauth.Version33 {
		tk, err := c.temporaryKey(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		cfg.TemporaryKeyID, pub = tk.id, tk.pub
	}
	return cfg.SealRequest(pub, plain, c.now())
}

// temporaryKey returns a cached or new 3.3 temporary key for t (PowerAuth 3.3, "Temporary Encryption
// Keys"): an HS256 request JWT, an ES256 answer verified with the master key (or the server key in
// activation scope) whose challenge, application and activation must be ours.
func (c *Client) temporaryKey(ctx context.Context, t eciesTarget) (tempKey, error) {
	cacheKey := t.appKey + "|" + t.activationID
	c.mu.Lock()
	tk, ok := c.temp[cacheKey]
	c.mu.Unlock()
	if ok && c.now().Add(30*time.Second).Before(tk.exp) {
		return tk, nil
	}
	hsKey, err := powerauth.TemporaryKeyRequestKey(t.scope(), t.appSecret, t.transport)
	if err != nil {
		return tk, err
	}
	now := c.now()
	challenge := base64.StdEncoding.EncodeToString(randomBytes(16))
	reqJWT, err := powerauth.SignTemporaryKeyRequest(hsKey, powerauth.TemporaryKeyRequest{ApplicationKey: t.appKey,
		ActivationID: t.activationID, Challenge: challenge, IssuedAt: now.Unix(), IssuedAtMs: now.UnixMilli()})
	if err != nil {
		return tk, err
	}
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"jwt": reqJWT}})
	var resp okResponse[struct {
		JWT string `json:"jwt"`
	}]
	if err := c.post(ctx, "/pa/v3/keystore/create", nil, body, &resp); err != nil {
		return tk, err
	}
	signer := t.master
	if t.scope() == powerauth.ScopeActivation {
		signer = t.server
	}
	claims, err := powerauth.VerifyTemporaryKeyResponse(resp.ResponseObject.JWT, signer)
	if err != nil {
		return tk, err
	}
	if claims.Challenge != challenge || claims.ApplicationKey != t.appKey || !strings.EqualFold(claims.ActivationID, t.activationID) {
		return tk, errors.New("device: the temporary key answer is not for this request")
	}
	pub, err := powerauth.ParsePublicKeyBase64(claims.PublicKey)
	if err != nil {
		return tk, err
	}
	tk = tempKey{id: claims.KeyID, pub: pub, exp: time.UnixMilli(claims.ExpiresAtMs)}
	c.mu.Lock()
	if c.temp == nil {
		c.temp = map[string]tempKey{}
	}
	c.temp[cacheKey] = tk
	c.mu.Unlock()
	return tk, nil
}

// activationTarget is the activation-scope ECIES target of an activated device.
func (st *State) activationTarget() (eciesTarget, error) {
	master, err := st.masterPublicKey()
	if err != nil {
		return eciesTarget{}, err
	}
	server, err := st.serverPublicKey()
	if err != nil {
		return eciesTarget{}, err
	}
	transport, err := st.transport()
	if err != nil {
		return eciesTarget{}, err
	}
	return eciesTarget{appKey: st.ApplicationKey, appSecret: powerauth.ApplicationSecret(st.ApplicationSecret), master: master,
		activationID: st.ActivationID, server: server, transport: transport}, nil
}
