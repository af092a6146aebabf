package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/inbox"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/webauthn"
)

const testSecret = "test-secret-0123456789"

// testClient bounds connections per host: hundreds of simultaneous dials can
// overflow a small listen backlog and stall on SYN retransmits for seconds.
// Requests still run in parallel, 64 at a time on the wire.
var testClient = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}

type harness struct {
	t       testing.TB
	srv     *server.Server
	store   store.Store
	addr    string
	keyring *txsign.Keyring
	ops     *txsign.Service
	reg     *prometheus.Registry
}

func newHarness(t *testing.T, ready map[string]server.Pinger) *harness {
	return newHarnessWith(t, harnessOpts{ready: ready})
}

type harnessOpts struct {
	ready       map[string]server.Pinger
	replay      replay.Store // default: in-process
	databaseURL string       // default: a fresh SQLite file
	now         func() time.Time
	maxBody     int
	limiter     server.RateLimiter // nil: no rate limits
	limits      server.RateLimits
	hsts        bool
	apiKeys     []config.APIKey // default: testSecret with scope admin
	// operationPoll is the server's store poll of waiting long-polls and event streams (default
	// 1 s); tests of the in-process wake-up set it far beyond their wait so only the hub can wake.
	operationPoll time.Duration
	feed          server.Feed // nil: none (a single process)
	// wrap, when set, wraps the store the services use (e.g. storetest.Outage); migrations and cleanup
	// use the database itself.
	wrap func(store.Store) store.Store
	// attestation: the device-key attestation policy; attestedTypes: operation types only attested keys approve.
	attestation   devicekey.AttestationPolicy
	attestedTypes []string
}

// newHarnessWith wires the server as cmd/signet does, over real stores, and
// serves it on a loopback port.
func newHarnessWith(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	if o.databaseURL == "" {
		o.databaseURL = filepath.Join(t.TempDir(), "signet.db")
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.maxBody == 0 {
		o.maxBody = 4096
	}
	if o.apiKeys == nil {
		o.apiKeys = []config.APIKey{{Name: "bank", Secret: testSecret, Scope: config.ScopeAdmin}}
	}
	db, err := sqlstore.Open(ctx, o.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var st store.Store = db
	if o.wrap != nil {
		st = o.wrap(db)
	}
	if o.ready == nil {
		o.ready = map[string]server.Pinger{"database": st}
	}
	if o.replay == nil {
		o.replay = replay.NewMemory(o.now)
	}
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{7}, 32)})
	auditLog := audit.New(st, o.now, nil)
	keyring := txsign.NewKeyring(st, ring, txsign.KeyringConfig{Now: o.now})
	if err := keyring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	caps, err := txsign.NewCapabilities(ring) // the same KEK in every harness: replicas share capabilities
	if err != nil {
		t.Fatal(err)
	}
	ops := txsign.NewService(st, auditLog, keyring, o.replay, txsign.Config{Issuer: testIssuer, Audience: testAudience,
		TokenTTL: 120 * time.Second, MaxFailures: 5, PublicURL: "http://localhost:8080", Now: o.now, Capabilities: caps,
		AttestedDeviceKeyTypes: o.attestedTypes})
	web, err := webauthn.New(st, ops, auditLog, ring, webauthn.Config{RPID: "localhost", RPOrigins: []string{"http://localhost:8080"},
		PublicURL: "http://localhost:8080", Argon2: webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	act, err := activation.New(st, ops, auditLog, ring, o.replay, activation.Config{Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	devices := devicekey.New(st, auditLog, o.now)
	devices.SetAttestationPolicy(o.attestation)
	srv := server.New(server.Deps{
		APIKeys:    o.apiKeys,
		Accounts:   account.New(st, auditLog, o.now),
		Operations: ops,
		Devices:    devices,
		Web:        web,
		Activation: act,
		Inbox:      inbox.New(st, auditLog, o.now),
		Evidence:   evidence.NewBuilder(st, keyring, testIssuer, o.now),
		Ready:      o.ready,
		Now:        o.now,
		Limiter:    o.limiter,
		Registry:   reg,
		Feed:       o.feed,
	}, server.Options{MaxBodyBytes: o.maxBody, RateLimits: o.limits, HSTS: o.hsts,
		OperationPoll: o.operationPoll})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &harness{t: t, srv: srv, store: st, addr: ln.Addr().String(), keyring: keyring, ops: ops, reg: reg}
}

const (
	testIssuer   = "http://localhost:8080"
	testAudience = "payments"
)

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// do sends a request; auth "" sends the test API key as Bearer, "-" sends none.
func (h *harness) do(method, path, auth string, body any) response {
	h.t.Helper()
	req := buildRequest(method, path, auth, testSecret, body)
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", h.addr
	resp, err := testClient.Do(req)
	return readResponse(h.t, resp, err)
}

// buildRequest makes a test request with a JSON body (string, []byte or any
// value to marshal). auth "" sends secret as a Bearer API key, "-" sends no
// Authorization, anything else is the header itself. headers are name, value
// pairs.
func buildRequest(method, path, auth, secret string, body any, headers ...string) *http.Request {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+secret)
	case "-":
	default:
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// readResponse reads a whole response (a transport error fails the test).
func readResponse(t testing.TB, resp *http.Response, err error) response {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (h *harness) createUser(ext string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/users", "", map[string]any{"external_id": ext, "display_name": "Jana Nováková"})
	if r.status != 201 {
		h.t.Fatalf("create user: %d %s", r.status, r.body)
	}
	return r.json(h.t)["id"].(string)
}

func (h *harness) auditCount() int {
	h.t.Helper()
	evs, _, err := h.store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(evs)
}

func TestUsers(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser("cust-1")

	t.Run("same external id again is 200 with the same user", func(t *testing.T) {
		r := h.do("POST", "/v1/users", "", map[string]any{"external_id": "cust-1", "display_name": "Other"})
		if r.status != 200 || r.json(t)["id"] != id || r.json(t)["display_name"] != "Jana Nováková" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("get by id", func(t *testing.T) {
		r := h.do("GET", "/v1/users/"+id, "", nil)
		m := r.json(t)
		if r.status != 200 || m["external_id"] != "cust-1" || m["created_at"] == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("find by external id", func(t *testing.T) {
		r := h.do("GET", "/v1/users?external_id=cust-1", "", nil)
		if r.status != 200 || r.json(t)["id"] != id {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("basic auth with name:secret", func(t *testing.T) {
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bank:"+testSecret))
		if r := h.do("GET", "/v1/users/"+id, basic, nil); r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.createUser("cust-1")
	before := h.auditCount()
	big := `{"external_id":"x","display_name":"` + strings.Repeat("a", 5000) + `"}`
	wrongBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("other:"+testSecret))
	tests := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		code                     string
	}{
		{"no api key", "POST", "/v1/users", "-", `{"external_id":"a"}`, 401, "unauthenticated"},
		{"wrong api key", "POST", "/v1/users", "Bearer wrong-secret-0123456789", `{"external_id":"a"}`, 401, "unauthenticated"},
		{"basic with wrong name", "POST", "/v1/users", wrongBasic, `{"external_id":"a"}`, 401, "unauthenticated"},
		{"unknown scheme", "GET", "/v1/users?external_id=a", "Digest abc", nil, 401, "unauthenticated"},
		{"malformed json", "POST", "/v1/users", "", `{"external_id":`, 400, "invalid_request"},
		{"unknown field", "POST", "/v1/users", "", `{"external_id":"a","admin":true}`, 400, "invalid_request"},
		{"wrong type", "POST", "/v1/users", "", `{"external_id":42}`, 400, "invalid_request"},
		{"trailing data", "POST", "/v1/users", "", `{"external_id":"a"} {}`, 400, "invalid_request"},
		{"empty body", "POST", "/v1/users", "", ``, 400, "invalid_request"},
		{"missing external id", "POST", "/v1/users", "", `{"display_name":"a"}`, 400, "invalid_request"},
		{"control characters", "POST", "/v1/users", "", `{"external_id":"a\u0000b"}`, 400, "invalid_request"},
		{"oversized body", "POST", "/v1/users", "", big, 413, "body_too_large"},
		{"invalid user id", "GET", "/v1/users/not-a-uuid", "", nil, 400, "invalid_request"},
		{"unknown user", "GET", "/v1/users/" + uuid.NewString(), "", nil, 404, "not_found"},
		{"find without external id", "GET", "/v1/users", "", nil, 400, "invalid_request"},
		{"find unknown", "GET", "/v1/users?external_id=nobody", "", nil, 404, "not_found"},
		{"credentials of unknown user", "GET", "/v1/users/" + uuid.NewString() + "/credentials", "", nil, 404, "not_found"},
		{"block invalid id", "POST", "/v1/credentials/123/block", "", `{"reason":"ISSUER"}`, 400, "invalid_request"},
		{"block unknown", "POST", "/v1/credentials/" + uuid.NewString() + "/block", "", `{"reason":"ISSUER"}`, 404, "not_found"},
		{"audit bad since", "GET", "/v1/audit?since=yesterday", "", nil, 400, "invalid_request"},
		{"audit bad limit", "GET", "/v1/audit?limit=-1", "", nil, 400, "invalid_request"},
		{"audit bad user id", "GET", "/v1/audit?user_id=x", "", nil, 400, "invalid_request"},
		{"audit forged cursor", "GET", "/v1/audit?cursor=forged", "", nil, 400, "invalid_request"},
		{"unknown route", "GET", "/v1/nothing-here", "", nil, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, tc.auth, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			p := r.json(t)
			if p["code"] != tc.code || p["title"] == "" || p["type"] == "" || int(p["status"].(float64)) != tc.status {
				t.Fatalf("problem %s", r.body)
			}
			if r.header.Get("X-Request-Id") == "" || p["request_id"] != r.header.Get("X-Request-Id") {
				t.Fatalf("request id missing: %s", r.body)
			}
		})
	}
	if after := h.auditCount(); after != before {
		t.Fatalf("bad input wrote %d audit events", after-before)
	}
	if _, err := h.store.GetUserByExternalID(context.Background(), "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request created a user: %v", err)
	}
}

func TestCredentialLifecycleThroughAPI(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-2")
	ctx := context.Background()
	var ids []string
	for _, kind := range []store.CredentialKind{store.KindPasskey, store.KindPowerAuth, store.KindDeviceKey} {
		c := &store.Credential{ID: uuid.NewString(), UserID: uid, Kind: kind, Status: store.StatusActive,
			Label: string(kind), MaxFailedAttempts: 5, CreatedAt: time.Now()}
		if err := h.store.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	r := h.do("GET", "/v1/users/"+uid+"/credentials", "", nil)
	var list struct {
		Credentials []map[string]any `json:"credentials"`
	}
	_ = json.Unmarshal(r.body, &list)
	if r.status != 200 || len(list.Credentials) != 3 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, id := range ids { // the same calls work for every kind
		steps := []struct {
			method, path, body string
			status             int
			want               string
		}{
			{"POST", "/v1/credentials/" + id + "/unblock", "", 409, ""}, // not blocked
			{"POST", "/v1/credentials/" + id + "/block", `{"reason":"NOPE"}`, 400, ""},
			{"POST", "/v1/credentials/" + id + "/block", `{"reason":"MAX_FAILED_ATTEMPTS"}`, 400, ""}, // the server's own reason
			{"POST", "/v1/credentials/" + id + "/block", `{"reason":"LOST_DEVICE"}`, 200, "BLOCKED"},
			{"POST", "/v1/credentials/" + id + "/block", `{"reason":"LOST_DEVICE"}`, 409, ""},
			{"POST", "/v1/credentials/" + id + "/unblock", "", 200, "ACTIVE"},
			{"DELETE", "/v1/credentials/" + id, "", 200, "REMOVED"},
			{"DELETE", "/v1/credentials/" + id, "", 409, ""},
			{"POST", "/v1/credentials/" + id + "/unblock", "", 409, ""},
		}
		for i, s := range steps {
			var body any
			if s.body != "" {
				body = s.body
			}
			r := h.do(s.method, s.path, "", body)
			if r.status != s.status {
				t.Fatalf("step %d %s %s: %d %s", i, s.method, s.path, r.status, r.body)
			}
			if s.want != "" && r.json(t)["status"] != s.want {
				t.Fatalf("step %d: %s", i, r.body)
			}
		}
		c, _ := h.store.GetCredential(ctx, id)
		if c.Status != store.StatusRemoved || c.RemovedAt == nil {
			t.Fatalf("stored %+v", c)
		}
	}

	t.Run("audit pages cover every event once", func(t *testing.T) {
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		for {
			r := h.do("GET", "/v1/audit?limit=2&user_id="+uid+"&cursor="+cursor, "", nil)
			var page struct {
				Events []struct {
					ID, Type, Outcome string
				} `json:"events"`
				Next string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, e := range page.Events {
				if seen[e.ID] {
					t.Fatalf("event %s twice", e.ID)
				}
				seen[e.ID] = true
			}
			pages++
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		// user.create + per credential: 5 refused transitions... count the successes and failures
		all, _, _ := h.store.ListAudit(ctx, store.AuditFilter{UserID: uid, Limit: 1000})
		if len(seen) != len(all) || pages < 2 {
			t.Fatalf("saw %d of %d events in %d pages", len(seen), len(all), pages)
		}
	})
}

type failingPinger struct{}

func (failingPinger) Ping(context.Context) error { return errors.New("down") }

func TestHealthReadyMetrics(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("GET", "/healthz", "-", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := h.do("GET", "/readyz", "-", nil); r.status != 200 || !strings.Contains(string(r.body), `"database":"ok"`) || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
	h.do("GET", "/v1/users/"+uuid.NewString(), "", nil)
	// The public listener does not serve metrics, with or without an admin key.
	for _, auth := range []string{"-", ""} {
		if r := h.do("GET", "/metrics", auth, nil); r.status != 404 || strings.Contains(string(r.body), "signet_http") {
			t.Fatalf("public /metrics: %d %s", r.status, r.body)
		}
	}
	// The admin listener does, and answers the health checks too.
	resp, err := h.srv.Admin().Test(httptest.NewRequest("GET", "/metrics", nil))
	r := readResponse(t, resp, err)
	if r.status != 200 || !strings.Contains(string(r.body), `signet_http_requests_total{method="GET",route="/v1/users/:id",status="404"} 1`) {
		t.Fatalf("admin /metrics %d %s", r.status, r.body)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v1/users": 404, "/debug/pprof/": 404} {
		resp, err := h.srv.Admin().Test(httptest.NewRequest("GET", path, nil))
		if r := readResponse(t, resp, err); r.status != want {
			t.Errorf("admin %s: %d; want %d", path, r.status, want)
		}
	}
	down := newHarness(t, map[string]server.Pinger{"redis": failingPinger{}})
	if r := down.do("GET", "/readyz", "-", nil); r.status != 503 || !strings.Contains(string(r.body), `"redis":"unavailable"`) || strings.Contains(string(r.body), "down") {
		t.Fatalf("readyz with redis down: %d %s", r.status, r.body)
	}
}

func TestRequestIDEchoed(t *testing.T) {
	h := newHarness(t, nil)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := h.srv.App().Test(req)
	if err != nil || resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("got %v %q", err, resp.Header.Get("X-Request-Id"))
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "bad id\nwith newline")
	resp, _ = h.srv.App().Test(req)
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("unsafe request id kept: %q", got)
	}
}

// TestOpenAPICoversEveryRoute fails when a registered /v1 route has no entry
// in docs/openapi.yaml.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil)
	checked := 0
	for _, r := range h.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/v1/") || r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		p := openAPIPath(r.Path)
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("route %s %s: no path %q in docs/openapi.yaml", r.Method, r.Path, p)
			continue
		}
		if _, ok := ops[strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s: path %q has no %s operation", r.Method, r.Path, p, strings.ToLower(r.Method))
		}
		checked++
	}
	if checked < 43 { // private, device, browser, PowerAuth, events and evidence /v1 routes
		t.Fatalf("only %d routes checked", checked)
	}
}

// openAPIPath turns fiber's "/v1/users/:id" into "/v1/users/{id}".
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + strings.TrimSuffix(strings.TrimPrefix(s, ":"), "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}

// TestLoginOmitsPayee: an operation without payee and amount (a login) leaves them out of its resource rather
// than answering empty strings; a payment keeps them.
func TestLoginOmitsPayee(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("login-user")
	r := h.do("POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "text": "Sign in to internet banking"})
	if r.status != 201 {
		t.Fatalf("create login: %d %s", r.status, r.body)
	}
	login := r.json(t)
	for _, k := range []string{"payee", "amount", "currency"} {
		if _, ok := login[k]; ok {
			t.Errorf("login operation carries %q: %s", k, r.body)
		}
	}
	got := h.do("GET", "/v1/operations/"+login["id"].(string), "", nil).json(t)
	if _, ok := got["payee"]; ok {
		t.Errorf("GET login operation carries payee: %v", got)
	}
	pay := h.createOp(uid, "10.00", "EUR", nil)
	p := h.do("GET", "/v1/operations/"+pay.ID, "", nil).json(t)
	if pe, ok := p["payee"].(map[string]any); !ok || pe["account"] == "" || p["amount"] != "10.00" {
		t.Errorf("payment operation: %v", p)
	}
}
