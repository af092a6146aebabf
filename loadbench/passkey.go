package loadbench

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/descope/virtualwebauthn"
	"golang.org/x/crypto/argon2"
)

// benchPasscode is the passcode of every bench passkey user (6 digits, within
// the policy for new passcodes).
const benchPasscode = "482916"

// Argon2 are the Argon2id parameters the bench assumes the server runs with
// (SIGNET_ARGON2_MEMORY_KIB, _TIME, _THREADS): the passkey flow's bound is
// cores / one Argon2id with them, measured on this machine.
type Argon2 struct {
	MemoryKiB uint32 `json:"memory_kib"`
	Time      uint32 `json:"time"`
	Threads   uint8  `json:"threads"`
}

// DefaultArgon2 is Signet's default (m = 19 MiB, t = 2, p = 1).
func DefaultArgon2() Argon2 { return Argon2{MemoryKiB: 19456, Time: 2, Threads: 1} }

// ParseArgon2 reads "memoryKiB,time,threads".
func ParseArgon2(s string) (Argon2, error) {
	var a Argon2
	if _, err := fmt.Sscanf(s, "%d,%d,%d", &a.MemoryKiB, &a.Time, &a.Threads); err != nil || a.MemoryKiB < 1024 || a.Time < 1 || a.Threads < 1 {
		return Argon2{}, fmt.Errorf("argon2 parameters %q: want memoryKiB,time,threads (e.g. 19456,2,1)", s)
	}
	return a, nil
}

func (a Argon2) String() string {
	return fmt.Sprintf("m=%d KiB, t=%d, p=%d", a.MemoryKiB, a.Time, a.Threads)
}

// argon2Cost times one Argon2id hash with a on one core.
func argon2Cost(a Argon2) func() error {
	salt := make([]byte, 16)
	pw := make([]byte, 32)
	return func() error {
		argon2.IDKey(pw, salt, a.Time, a.MemoryKiB, a.Threads, 32)
		return nil
	}
}

// passkeyUser is a bank customer enrolled through the public enrollment API
// with a virtual passkey (descope/virtualwebauthn, the authenticator the
// server's own tests use) and the bench passcode.
type passkeyUser struct {
	c      *client
	userID string
	rp     virtualwebauthn.RelyingParty
	mu     sync.Mutex // the authenticator's counter
	auth   virtualwebauthn.Authenticator
	cred   virtualwebauthn.Credential
}

// web calls the browser API as the hosted pages do (from origin).
func (c *client) web(ctx context.Context, origin, method, path, auth string, in, out any) error {
	h := map[string]string{"Origin": origin}
	if auth != "" {
		h["Authorization"] = auth
	}
	return c.call(ctx, method, c.cfg.Server+path, false, in, out, h)
}

// newPasskeyUser creates (or reuses) the user, issues an enrollment link as the
// bank does, and registers a passkey with the passcode through the browser API.
func (c *client) newPasskeyUser(ctx context.Context, name string) (*passkeyUser, error) {
	var u struct{ ID string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/users", true, map[string]string{"external_id": "bench-" + name}, &u, nil); err != nil {
		return nil, err
	}
	var link struct{ URL string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/users/"+u.ID+"/enrollments", true, nil, &link, nil); err != nil {
		return nil, fmt.Errorf("enrollment link: %w", err)
	}
	_, token, ok := strings.Cut(link.URL, "#token=")
	if !ok {
		return nil, fmt.Errorf("enrollment link %q has no #token=", link.URL)
	}
	token, _ = url.QueryUnescape(token)
	// The hosted enrollment page runs at the link's origin, so that is the
	// WebAuthn origin unless the bench is told otherwise.
	origin := c.cfg.RPOrigin
	if origin == "" {
		lu, err := url.Parse(link.URL)
		if err != nil || lu.Host == "" {
			return nil, fmt.Errorf("enrollment link %q is not a URL", link.URL)
		}
		origin = lu.Scheme + "://" + lu.Host
	}
	var sess struct{ Session string }
	if err := c.web(ctx, origin, "POST", "/v1/web/enrollment/session", "", map[string]string{"token": token}, &sess); err != nil {
		return nil, fmt.Errorf("enrollment session: %w", err)
	}
	bearer := "Bearer " + sess.Session
	var begin struct {
		CeremonyID string          `json:"ceremony_id"`
		PublicKey  json.RawMessage `json:"public_key"`
		HPKE       hpkeParams      `json:"hpke"`
	}
	if err := c.web(ctx, origin, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil, &begin); err != nil {
		return nil, fmt.Errorf("registration begin: %w", err)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(begin.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("registration options: %w", err)
	}
	pu := &passkeyUser{c: c, userID: u.ID, auth: virtualwebauthn.NewAuthenticator(),
		cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2),
		rp:   virtualwebauthn.RelyingParty{ID: opts.RelyingPartyID, Name: "Signet", Origin: origin}}
	pu.auth.Options.UserHandle = []byte(opts.UserID)
	pu.auth.AddCredential(pu.cred)
	// A user enrolled by an earlier run already has the passcode: the
	// registration then asks for the current one, the same digits.
	pc, err := begin.HPKE.seal(fieldPasscode, benchPasscode)
	if err != nil {
		return nil, err
	}
	var pk struct{ ID string }
	if err := c.web(ctx, origin, "POST", "/v1/web/enrollment/passkeys/finish", bearer, map[string]any{"ceremony_id": begin.CeremonyID,
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(pu.rp, pu.auth, pu.cred, *opts)),
		"passcode":   pc, "label": "signet bench"}, &pk); err != nil {
		return nil, fmt.Errorf("registration finish: %w", err)
	}
	c.registered(pk.ID)
	return pu, nil
}

const fieldPasscode = "passcode"

// hpkeParams is the "hpke" object of a begin answer.
type hpkeParams struct {
	PublicKey string            `json:"public_key"`
	Info      map[string]string `json:"info"`
}

// seal encrypts a passcode exactly as the JS SDK does (web/: RFC 9180 base
// mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, the server's info
// for the field, empty AAD): {"enc", "ct"} in base64url.
func (h hpkeParams) seal(field, passcode string) (map[string]string, error) {
	pub, err := base64.RawURLEncoding.DecodeString(h.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("hpke public key: %w", err)
	}
	info, err := base64.RawURLEncoding.DecodeString(h.Info[field])
	if err != nil || len(info) == 0 {
		return nil, fmt.Errorf("hpke info for %s missing", field)
	}
	pk, err := hpke.DHKEM(ecdh.P256()).NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("hpke public key: %w", err)
	}
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		return nil, err
	}
	ct, err := s.Seal(nil, []byte(passcode))
	if err != nil {
		return nil, err
	}
	return map[string]string{"enc": base64.RawURLEncoding.EncodeToString(enc), "ct": base64.RawURLEncoding.EncodeToString(ct)}, nil
}

// approveOnce is the whole passkey flow: the bank creates an operation, the
// approval page begins the ceremony, the passkey signs the challenge, the
// passcode goes HPKE-sealed to the ceremony, and the bank reads the token.
func (pu *passkeyUser) approveOnce(ctx context.Context) (string, error) {
	c := pu.c
	var op struct{ ID, Capability string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/operations", true, map[string]any{"user_id": pu.userID, "type": "payment",
		"payee": map[string]string{"account": benchAccount, "name": "Bench Payee"}, "amount": benchAmount, "currency": benchCurrency},
		&op, nil); err != nil {
		return "", fmt.Errorf("create operation: %w", err)
	}
	capability := "Signet-Capability " + op.Capability
	var begin struct {
		CeremonyID string          `json:"ceremony_id"`
		PublicKey  json.RawMessage `json:"public_key"`
		HPKE       hpkeParams      `json:"hpke"`
	}
	if err := c.web(ctx, pu.rp.Origin, "POST", "/v1/web/operations/"+op.ID+"/approval/begin", capability, map[string]string{"decision": "approve"}, &begin); err != nil {
		return "", fmt.Errorf("approval begin: %w", err)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(begin.PublicKey))
	if err != nil {
		return "", fmt.Errorf("assertion options: %w", err)
	}
	pu.mu.Lock()
	pu.cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(pu.rp, pu.auth, pu.cred, *opts)
	pu.mu.Unlock()
	pc, err := begin.HPKE.seal(fieldPasscode, benchPasscode)
	if err != nil {
		return "", err
	}
	var res struct{ Status string }
	if err := c.web(ctx, pu.rp.Origin, "POST", "/v1/web/operations/"+op.ID+"/approval/finish", capability, map[string]any{
		"ceremony_id": begin.CeremonyID, "credential": json.RawMessage(assertion), "passcode": pc}, &res); err != nil {
		return "", fmt.Errorf("approval finish: %w", err)
	}
	if res.Status != "APPROVED" {
		return "", fmt.Errorf("approval finish: status %q", res.Status)
	}
	var got struct{ Status, Token string }
	if err := c.call(ctx, "GET", c.cfg.Server+"/v1/operations/"+op.ID, true, nil, &got, nil); err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	if got.Token == "" {
		return "", errors.New("read token: the approved operation has no token")
	}
	return got.Token, nil
}
