package server_test

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"github.com/prometheus/client_golang/prometheus"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
)

const (
	webAPISecret = "web-test-secret-0123456789"
	webIssuer    = "http://signet.test"
	webAudience  = "test-gateway"
)

// webEnv is a server wired as cmd/signet wires it (SQLite, in-process replay
// store, KEK ring), with web-native signing enabled for one origin.
type webEnv struct {
	reg    *prometheus.Registry // the server's metrics (served on the admin listener only)
	t      testing.TB
	srv    *server.Server
	st     store.Store
	ops    *txsign.Service
	web    *webauthn.Service
	replay *replay.Memory
	origin string
	// base is the served URL when listening (browser tests), else "".
	base string
}

type webEnvOpts struct {
	origin string       // WebAuthn origin; default http://localhost:8080
	ln     net.Listener // serve on it when set
	mutate func(*webauthn.Config)
	brand  web.Brand // the hosted pages' branding (zero: neutral)
}

func newWebEnv(t testing.TB, o webEnvOpts) *webEnv {
	t.Helper()
	ctx := context.Background()
	if o.origin == "" {
		o.origin = "http://localhost:8080"
	}
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, err := kek.New([][]byte{k})
	if err != nil {
		t.Fatal(err)
	}
	a := audit.New(st, nil, nil)
	keyring := txsign.NewKeyring(st, ring, txsign.KeyringConfig{MaxTokenTTL: config.MaxTokenTTL})
	if err := keyring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	rp := replay.NewMemory(nil)
	ops := txsign.NewService(st, a, keyring, rp, txsign.Config{Issuer: webIssuer, Audience: webAudience,
		TokenTTL: 120 * time.Second, PublicURL: o.origin})
	cfg := webauthn.Config{RPID: "localhost", RPOrigins: []string{o.origin}, PublicURL: o.origin,
		Argon2:        webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1},
		ReturnURLs:    []string{o.origin + "/done", "https://bank.example/sca/"},
		OpenerOrigins: []string{"https://bank.example"}}
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	web, err := webauthn.New(st, ops, a, ring, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := server.New(server.Deps{
		APIKeys:    []config.APIKey{{Name: "bank", Secret: webAPISecret, Scope: config.ScopeAdmin}},
		Accounts:   account.New(st, a, nil),
		Operations: ops,
		Devices:    devicekey.New(st, a, nil),
		Web:        web,
		Evidence:   evidence.NewBuilder(st, keyring, webIssuer, nil),
		Ready:      map[string]server.Pinger{"database": st},
		Registry:   reg,
	}, server.Options{MaxBodyBytes: 64 << 10, RequestTimeout: 10 * time.Second, Brand: o.brand})
	e := &webEnv{t: t, srv: srv, st: st, ops: ops, web: web, replay: rp, origin: o.origin, reg: reg}
	if o.ln != nil {
		go func() { _ = srv.Serve(o.ln) }()
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
		e.base = o.origin
	}
	return e
}

// webResponse is the shared test response (server_test.go).
type webResponse = response

// do sends a request in-process. auth: "" = the bank's API key, "-" = none,
// anything else is the Authorization header.
func (e *webEnv) do(method, path, auth string, body any, headers ...string) webResponse {
	e.t.Helper()
	req := buildRequest(method, path, auth, webAPISecret, body, headers...)
	resp, err := e.srv.App().Test(req, 15000)
	r := readResponse(e.t, resp, err)
	checkResponse(req, r.status, r.header, r.body) // docs/openapi.yaml, openapi_live_test.go
	return r
}

func (e *webEnv) mustDo(status int, method, path, auth string, body any) map[string]any {
	e.t.Helper()
	r := e.do(method, path, auth, body)
	if r.status != status {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.json(e.t)
}

func (e *webEnv) createUser(ext string) string {
	e.t.Helper()
	return e.mustDo(201, "POST", "/v1/users", "", map[string]any{"external_id": ext, "display_name": "Jana Nováková"})["id"].(string)
}

// enrollmentToken issues an enrollment link and returns its URL and secret.
func (e *webEnv) enrollmentToken(userID string) (string, string) {
	e.t.Helper()
	m := e.mustDo(201, "POST", "/v1/users/"+userID+"/enrollments", "", nil)
	u := m["url"].(string)
	_, tok, ok := strings.Cut(u, "#token=")
	if !ok {
		e.t.Fatalf("enrollment url %q", u)
	}
	return u, tok
}

func (e *webEnv) payment(userID, payeeName, amount string) map[string]any {
	e.t.Helper()
	return e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": userID, "type": "payment",
		"payee": map[string]any{"account": "CZ6508000000192000145399", "name": payeeName}, "amount": amount, "currency": "CZK"})
}

// sealPasscode encrypts a passcode as the browser does, from a begin
// response's "hpke" object.
func sealPasscode(t testing.TB, hp map[string]any, field, passcode string) map[string]string {
	t.Helper()
	pub, _ := base64.RawURLEncoding.DecodeString(hp["public_key"].(string))
	info, _ := base64.RawURLEncoding.DecodeString(hp["info"].(map[string]any)[field].(string))
	pk, err := hpke.DHKEM(ecdh.P256()).NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := s.Seal(nil, []byte(passcode))
	return map[string]string{"enc": base64.RawURLEncoding.EncodeToString(enc), "ct": base64.RawURLEncoding.EncodeToString(ct)}
}
