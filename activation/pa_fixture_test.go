package activation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

// paFixture is newFixture with the operation service wired as cmd/signet wires it (txsign.Service over the
// same store and audit log) and a device.Client whose 3.2 key exchange reaches KeyExchange in memory, so the
// signature and mobile-token paths run against activations made the way a phone makes them.
type paFixture struct {
	*fixture
	ops *txsign.Service
	dev *device.Client
	cfg device.AppConfig
}

const testPIN = "1234"

func newPAFixture(t *testing.T) *paFixture {
	t.Helper()
	f := newFixture(t)
	keyring := txsign.NewKeyring(f.st, f.s.sealer, txsign.KeyringConfig{Now: f.clock.Now})
	if err := keyring.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops := txsign.NewService(f.st, f.s.audit, keyring, replay.NewMemory(f.clock.Now),
		txsign.Config{Issuer: "https://signet.test", Audience: "bank", Now: f.clock.Now})
	f.s.ops = ops
	cfg, err := device.ParseAppConfig(EncodeSDKConfig(f.app))
	if err != nil {
		t.Fatal(err)
	}
	// 3.2: the key exchange is the one request (3.3 would fetch a temporary key first).
	dev := &device.Client{BaseURL: "http://signet.test", Version: powerauth.Version32, RememberPIN: true, Now: f.clock.Now,
		HTTP: &http.Client{Transport: keyExchangeOnly{f.s}}}
	return &paFixture{fixture: f, ops: ops, dev: dev, cfg: cfg}
}

// newActivated is newPAFixture with an ACTIVE activation of the fixture's user (activate).
func newActivated(t *testing.T, maxFailed int) (*paFixture, *device.State) {
	t.Helper()
	p := newPAFixture(t)
	return p, p.activate(t, p.user, maxFailed)
}

// keyExchangeOnly answers /pa/v3/activation/create as server's paActivationCreate does, and nothing else.
type keyExchangeOnly struct{ s *Service }

func (k keyExchangeOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != "/pa/v3/activation/create" {
		return nil, fmt.Errorf("unexpected request to %s", r.URL.Path)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	env, err := k.s.KeyExchange(r.Context(), r.Header.Get(powerauth.HeaderEncryption), body)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(env)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(raw)), Request: r}, err
}

// activate makes an ACTIVE activation of user (key exchange by the device, then commit) with maxFailed
// failed attempts allowed (0: the default, 5).
func (p *paFixture) activate(t *testing.T, user store.User, maxFailed int) *device.State {
	t.Helper()
	ctx := context.Background()
	a, err := p.s.Init(ctx, "test", InitRequest{UserID: user.ID, ApplicationID: p.app.ID, MaxFailedAttempts: maxFailed})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.s.Commit(ctx, "test", st.ActivationID, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

// newUser stores another user.
func (p *paFixture) newUser(t *testing.T, externalID string) store.User {
	t.Helper()
	u := store.User{ExternalID: externalID, CreatedAt: p.clock.Now(), UpdatedAt: p.clock.Now()}
	if err := p.st.CreateUser(context.Background(), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// sign is the X-PowerAuth-Authorization header the device computes; the device's counter moves.
func (p *paFixture) sign(t *testing.T, st *device.State, method, uriID string, body []byte, typ powerauth.SignatureType, pin string) string {
	t.Helper()
	h, err := p.dev.SignatureHeader(st, method, uriID, body, typ, pin)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// passkey stores an ACTIVE passkey of the fixture's user: a credential of another kind.
func (p *paFixture) passkey(t *testing.T) store.Credential {
	t.Helper()
	c := store.Credential{ID: "11111111-2222-4333-8444-555555555555", UserID: p.user.ID, Kind: store.KindPasskey,
		Status: store.StatusActive, LookupKey: "cred-1", PublicKey: []byte{1}, CreatedAt: p.clock.Now()}
	if err := p.st.CreateCredential(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// validate sends an empty /pa/v3/signature/validate request signed by the device.
func (p *paFixture) validate(t *testing.T, st *device.State, typ powerauth.SignatureType, pin string) error {
	t.Helper()
	h := p.sign(t, st, "POST", URISignatureValidate, nil, typ, pin)
	return p.s.ValidateSignature(context.Background(), SignedRequest{Method: "POST", Authorization: h})
}

// forged is h with a bit of its signature flipped, in the possession component: nothing verifies.
func forged(t *testing.T, h string) string {
	t.Helper()
	hdr, err := powerauth.ParseAuthorizationHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(hdr.Signature)
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	hdr.Signature = base64.StdEncoding.EncodeToString(sig)
	return hdr.HeaderValue()
}

func (p *paFixture) cred(t *testing.T, id string) store.Credential {
	t.Helper()
	c, err := p.st.GetCredential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *paFixture) op(t *testing.T, id string) store.Operation {
	t.Helper()
	op, err := p.st.GetOperation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// wantCounter checks the stored counter and failed attempts of an activation.
func (p *paFixture) wantCounter(t *testing.T, id string, counter int64, failed int) store.Credential {
	t.Helper()
	c := p.cred(t, id)
	if c.Counter != counter || c.FailedAttempts != failed {
		t.Fatalf("counter %d, failed attempts %d; want %d, %d", c.Counter, c.FailedAttempts, counter, failed)
	}
	return c
}

// lastEvent is the latest audit event and its evidence.
func (p *paFixture) lastEvent(t *testing.T) (store.AuditEvent, map[string]any) {
	t.Helper()
	evs, _, err := p.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil || len(evs) == 0 || len(evs) == 1000 {
		t.Fatalf("%d audit events, %v", len(evs), err)
	}
	ev := evs[len(evs)-1]
	var evidence map[string]any
	if len(ev.Evidence) > 0 {
		if err := json.Unmarshal(ev.Evidence, &evidence); err != nil {
			t.Fatal(err)
		}
	}
	return ev, evidence
}

// wantEvent checks the latest audit event.
func (p *paFixture) wantEvent(t *testing.T, typ, outcome, reason, credID string) map[string]any {
	t.Helper()
	ev, evidence := p.lastEvent(t)
	if ev.Type != typ || ev.Outcome != outcome || ev.Reason != reason || ev.CredentialID != credID {
		t.Fatalf("audit event %s %s %q (credential %q), want %s %s %q (credential %q)", ev.Type, ev.Outcome, ev.Reason,
			ev.CredentialID, typ, outcome, reason, credID)
	}
	return evidence
}

// wantRefused checks a refusal: the one authentication failure, audited as typ with outcome and reason.
func (p *paFixture) wantRefused(t *testing.T, err error, typ, outcome, reason, credID string) map[string]any {
	t.Helper()
	if !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("got %v, want %v", err, fault.ErrUnauthenticated)
	}
	return p.wantEvent(t, typ, outcome, reason, credID)
}

// wantNumber checks a number in audit evidence (JSON numbers decode as float64).
func wantNumber(t *testing.T, evidence map[string]any, key string, want int64) {
	t.Helper()
	if got, ok := evidence[key].(float64); !ok || int64(got) != want {
		t.Fatalf("evidence %s = %v, want %d (evidence %v)", key, evidence[key], want, evidence)
	}
}

// payment creates a PENDING payment of user, paying Landlord 100.00 EUR (operation data
// "A1*A100.00EUR*IDE89370400440532013000*TLandlord").
func (p *paFixture) payment(t *testing.T, user store.User, with func(*txsign.NewOperation)) store.Operation {
	t.Helper()
	n := txsign.NewOperation{UserID: user.ID, Type: "payment", Amount: "100.00", Currency: "EUR",
		PayeeAccount: "DE89370400440532013000", PayeeName: "Landlord"}
	if with != nil {
		with(&n)
	}
	op, _, err := p.ops.Create(context.Background(), "bank", n)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

const paymentData = "A1*A100.00EUR*IDE89370400440532013000*TLandlord"

// hookStore runs the next hook ahead of each UpdateCredential (a nil hook: none): what a concurrent request
// or an outage does between the activation's read and its write.
type hookStore struct {
	Store
	hooks []func() error
}

func (h *hookStore) UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error) {
	if len(h.hooks) > 0 {
		hook := h.hooks[0]
		h.hooks = h.hooks[1:]
		if hook != nil {
			if err := hook(); err != nil {
				return store.Credential{}, err
			}
		}
	}
	return h.Store.UpdateCredential(ctx, id, fn)
}

// hooked makes the service's store run hooks, one an UpdateCredential, until they are used up.
func (p *paFixture) hooked(hooks ...func() error) {
	p.s.store = &hookStore{Store: p.st, hooks: hooks}
}

// racingOps runs race once, after an attempt's factor is verified and before Decide commits the decision:
// a concurrent request that moved the operation on.
type racingOps struct {
	Operations
	race func()
}

func (r *racingOps) Decide(ctx context.Context, a txsign.Attempt) (txsign.Result, error) {
	verify := a.Verify
	a.Verify = func(op store.Operation, cred store.Credential) (txsign.Evidence, error) {
		ev, err := verify(op, cred)
		if r.race != nil {
			r.race()
			r.race = nil
		}
		return ev, err
	}
	return r.Operations.Decide(ctx, a)
}

// transition moves an activation to status (as the bank's block or remove would).
func (p *paFixture) transition(t *testing.T, id string, status store.Status) {
	t.Helper()
	if _, err := p.st.UpdateCredential(context.Background(), id, func(c *store.Credential) error {
		return c.Transition(status, store.ReasonIssuer, p.clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
}
