package webauthn_test

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/webauthn"
)

const (
	testOrigin   = "http://localhost:8080"
	testPasscode = "482916"
)

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	ring  *kek.Ring
	kek   []byte
	audit *audit.Log
	ops   *txsign.Service
	svc   *webauthn.Service
	acct  *account.Service
	clock *clock
	cfg   webauthn.Config
}

func newKEK(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnv(t *testing.T, mutate func(*webauthn.Config)) *env {
	t.Helper()
	return newEnvOn(t, sqltest.OpenSQLite(t), mutate)
}

// newEnvOn is newEnv on st, a migrated store (sqltest.OpenPostgres for PostgreSQL).
func newEnvOn(t *testing.T, st store.Store, mutate func(*webauthn.Config)) *env {
	t.Helper()
	ctx := context.Background()
	key := newKEK(t)
	ring, err := kek.New([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC()}
	a := audit.New(st, clk.now, nil)
	keyring := txsign.NewKeyring(st, ring, txsign.KeyringConfig{MaxTokenTTL: 300 * time.Second})
	if err := keyring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	ops := txsign.NewService(st, a, keyring, replay.NewMemory(nil), txsign.Config{Issuer: "http://localhost:8080",
		Audience: "test-gateway", PublicURL: testOrigin, Now: clk.now})
	cfg := webauthn.Config{RPID: "localhost", RPOrigins: []string{testOrigin}, PublicURL: testOrigin,
		Argon2: webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}, Now: clk.now,
		// Set here, not left to New's default, so that services built again from e.cfg (settle_test.go)
		// share the ceremonies of e.svc.
		Ceremonies: ceremony.NewMemory(clk.now, 0)}
	if mutate != nil {
		mutate(&cfg)
	}
	svc, err := webauthn.New(st, ops, a, ring, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, st: st, ring: ring, kek: key, audit: a, ops: ops, svc: svc, acct: account.New(st, a, clk.now), clock: clk, cfg: cfg}
}

// on is a webauthn service over st (a wrapper of e.st) with an operation service, an audit log and a
// keyring over st as well, so that every store call of an approval goes through st.
func (e *env) on(st store.Store) *webauthn.Service {
	e.t.Helper()
	a := audit.New(st, e.clock.now, nil)
	keyring := txsign.NewKeyring(st, e.ring, txsign.KeyringConfig{MaxTokenTTL: 300 * time.Second})
	if err := keyring.Ensure(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	ops := txsign.NewService(st, a, keyring, replay.NewMemory(nil), txsign.Config{Issuer: "http://localhost:8080",
		Audience: "test-gateway", PublicURL: testOrigin, Now: e.clock.now})
	svc, err := webauthn.New(st, ops, a, e.ring, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// device is a software authenticator holding one passkey of one user.
type device struct {
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newDevice(opts virtualwebauthn.AuthenticatorOptions) *device {
	return &device{rp: virtualwebauthn.RelyingParty{ID: "localhost", Name: "Signet", Origin: testOrigin},
		auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)}
}

func (e *env) createUser(ext string) store.User {
	e.t.Helper()
	u, _, err := e.acct.CreateUser(e.ctx, "bank", account.NewUser{ExternalID: ext, DisplayName: "Jana Nováková"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// session opens a management session from a fresh enrollment link.
func (e *env) session(userID string) string {
	e.t.Helper()
	link, err := e.svc.IssueEnrollment(e.ctx, "bank", userID)
	if err != nil {
		e.t.Fatal(err)
	}
	_, token, ok := strings.Cut(link.URL, "#token=")
	if !ok || !strings.HasPrefix(link.URL, testOrigin+"/web/enroll#") {
		e.t.Fatalf("enrollment url %q", link.URL)
	}
	sess, err := e.svc.OpenSession(e.ctx, token)
	if err != nil {
		e.t.Fatal(err)
	}
	return sess.Token
}

// seal encrypts a passcode the way the browser does (RFC 9180 base mode).
func seal(t testing.TB, hp *webauthn.HPKEParams, field, passcode string) []byte {
	t.Helper()
	pubBytes, err := base64.RawURLEncoding.DecodeString(hp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	info, err := base64.RawURLEncoding.DecodeString(hp.Info[field])
	if err != nil || len(info) == 0 {
		t.Fatalf("no info for %s: %v", field, hp.Info)
	}
	return sealInfo(t, pubBytes, info, passcode)
}

func sealInfo(t testing.TB, pubBytes, info []byte, passcode string) []byte {
	t.Helper()
	pk, err := hpke.DHKEM(ecdh.P256()).NewPublicKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	enc, sender, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sender.Seal(nil, []byte(passcode))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{"enc": base64.RawURLEncoding.EncodeToString(enc), "ct": base64.RawURLEncoding.EncodeToString(ct)})
	return raw
}

// enroll registers d's passkey for the session's user and sets passcode.
func (e *env) enroll(token string, d *device, passcode string) (webauthn.PasskeyView, error) {
	e.t.Helper()
	begin, err := e.svc.BeginRegistration(e.ctx, token)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := json.Marshal(begin.PublicKey)
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	d.auth.Options.UserHandle = []byte(opts.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts)
	var pc []byte
	if passcode != "" {
		pc = seal(e.t, begin.HPKE, webauthn.FieldPasscode, passcode)
	}
	view, err := e.svc.FinishRegistration(e.ctx, token, webauthn.RegistrationResult{CeremonyID: begin.CeremonyID,
		Credential: []byte(resp), Passcode: pc, Label: "Test phone"})
	if err == nil {
		d.auth.AddCredential(d.cred)
	}
	return view, err
}

func (e *env) enrolled(ext string) (store.User, *device) {
	e.t.Helper()
	u := e.createUser(ext)
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	if _, err := e.enroll(e.session(u.ID), d, testPasscode); err != nil {
		e.t.Fatal(err)
	}
	return u, d
}

func (e *env) payment(userID, amount string) store.Operation {
	e.t.Helper()
	op, _, err := e.ops.Create(e.ctx, "bank", txsign.NewOperation{UserID: userID, Type: "payment",
		PayeeAccount: "CZ6508000000192000145399", PayeeName: "Alza.cz a.s.", Amount: amount, Currency: "CZK"})
	if err != nil {
		e.t.Fatal(err)
	}
	return op
}

// assert signs the ceremony's options with d (counter incremented first, as
// an authenticator does).
func (d *device) assert(t testing.TB, pk *protocol.CredentialAssertion) []byte {
	t.Helper()
	raw, _ := json.Marshal(pk)
	opts, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	d.cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(d.rp, d.auth, d.cred, *opts))
}

// assertWith signs with exactly counter.
func (d *device) assertWith(t testing.TB, pk *protocol.CredentialAssertion, counter uint32) []byte {
	t.Helper()
	d.cred.Counter = counter - 1
	return d.assert(t, pk)
}

type attempt struct {
	begin webauthn.AssertionOptions
	in    webauthn.ApprovalResult
}

func (e *env) prepare(op store.Operation, d *device, decision txsign.Decision, passcode string) attempt {
	e.t.Helper()
	begin, err := e.svc.BeginApproval(e.ctx, op.ID, decision)
	if err != nil {
		e.t.Fatal(err)
	}
	in := webauthn.ApprovalResult{CeremonyID: begin.CeremonyID, Credential: d.assert(e.t, begin.PublicKey)}
	if decision == txsign.Approve {
		in.Passcode = seal(e.t, begin.HPKE, webauthn.FieldPasscode, passcode)
	}
	return attempt{begin: begin, in: in}
}

func (e *env) approve(op store.Operation, d *device, passcode string) (txsign.Result, error) {
	e.t.Helper()
	a := e.prepare(op, d, txsign.Approve, passcode)
	return e.svc.FinishApproval(e.ctx, op.ID, a.in)
}

func (e *env) user(id string) store.User {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) passkey(userID string) store.Credential {
	e.t.Helper()
	cs, err := e.st.ListCredentials(e.ctx, store.CredentialFilter{UserID: userID, Kind: store.KindPasskey})
	if err != nil || len(cs) == 0 {
		e.t.Fatalf("no passkey: %v", err)
	}
	return cs[0]
}

func (e *env) passkeysOf(userID string) []store.Credential {
	e.t.Helper()
	cs, err := e.st.ListCredentials(e.ctx, store.CredentialFilter{UserID: userID, Kind: store.KindPasskey})
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func (e *env) op(id string) store.Operation {
	e.t.Helper()
	op, err := e.st.GetOperation(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return op
}

func (e *env) audits(f store.AuditFilter) []store.AuditEvent {
	e.t.Helper()
	f.Limit = 1000
	evs, _, err := e.st.ListAudit(e.ctx, f)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}
