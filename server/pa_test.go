package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/config"
	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/inbox"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/notify"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

// paClock is the one clock of a PowerAuth test: server, store stamps, devices.
type paClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *paClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *paClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// paEnv is a Signet server with PowerAuth wired as cmd/signet wires it, on a loopback port.
type paEnv struct {
	t      *testing.T
	st     *sqlstore.Store
	clock  *paClock
	act    *activation.Service
	pushes *pushRecorder
	obs    *notify.Observer
	url    string
	app    map[string]any
	cfg    padevice.AppConfig
}

func newPAEnv(t *testing.T, st *sqlstore.Store) *paEnv {
	t.Helper()
	return newPAEnvWith(t, st, nil)
}

// newPAEnvWith is newPAEnv with the activation configuration adjusted by with (when not nil).
func newPAEnvWith(t *testing.T, st *sqlstore.Store, with func(*activation.Config)) *paEnv {
	t.Helper()
	ctx := context.Background()
	clock := &paClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	ring, err := kek.New([][]byte{bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	auditLog := audit.New(st, clock.Now, nil)
	keyring := txsign.NewKeyring(st, ring, txsign.KeyringConfig{Now: clock.Now})
	if err := keyring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	rp := replay.NewMemory(clock.Now)
	ops := txsign.NewService(st, auditLog, keyring, rp, txsign.Config{Issuer: testIssuer, Audience: testAudience,
		TokenTTL: 120 * time.Second, MaxFailures: 5, PublicURL: "http://localhost:8080", Now: clock.Now})
	actCfg := activation.Config{Now: clock.Now}
	if with != nil {
		with(&actCfg)
	}
	act, err := activation.New(st, ops, auditLog, ring, rp, actCfg)
	if err != nil {
		t.Fatal(err)
	}
	// Pushes for new operations, as cmd/signet wires them, to a recording provider.
	pushes := &pushRecorder{}
	obs := notify.NewObserver(st, pushes, notify.ObserverConfig{Capability: ops.Capability})
	ops.Observe(obs)
	inboxSvc := inbox.New(st, auditLog, clock.Now)
	inboxSvc.Observe(obs)
	srv := server.New(server.Deps{
		APIKeys:    []config.APIKey{{Name: "bank", Secret: testSecret, Scope: config.ScopeAdmin}},
		Accounts:   account.New(st, auditLog, clock.Now),
		Operations: ops,
		Devices:    devicekey.New(st, auditLog, clock.Now),
		Activation: act,
		Inbox:      inboxSvc,
		Evidence:   evidence.NewBuilder(st, keyring, testIssuer, clock.Now),
		Now:        clock.Now,
	}, server.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	e := &paEnv{t: t, st: st, clock: clock, act: act, pushes: pushes, obs: obs, url: "http://" + ln.Addr().String()}
	status, app := e.bank("POST", "/v1/applications", map[string]any{"name": "Mobile banking"})
	if status != 201 {
		t.Fatalf("create application: %d %v", status, app)
	}
	e.app = app
	if e.cfg, err = padevice.ParseAppConfig(app["mobile_sdk_config"].(string)); err != nil {
		t.Fatal(err)
	}
	return e
}

// bank calls the private API with the test API key.
func (e *paEnv) bank(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (e *paEnv) user(ext string) string {
	e.t.Helper()
	status, u := e.bank("POST", "/v1/users", map[string]any{"external_id": ext, "display_name": "Jana Nováková"})
	if status != 201 {
		e.t.Fatalf("create user: %d %v", status, u)
	}
	return u["id"].(string)
}

// initActivation asks for a new activation; extra adds request members.
func (e *paEnv) initActivation(userID string, extra map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"user_id": userID, "application_id": e.app["id"]}
	for k, v := range extra {
		body[k] = v
	}
	status, a := e.bank("POST", "/v1/activations", body)
	if status != 201 {
		e.t.Fatalf("init activation: %d %v", status, a)
	}
	return a
}

func (e *paEnv) activation(id string) map[string]any {
	e.t.Helper()
	status, a := e.bank("GET", "/v1/activations/"+id, nil)
	if status != 200 {
		e.t.Fatalf("get activation: %d %v", status, a)
	}
	return a
}

func (e *paEnv) client(v powerauth.Version) *padevice.Client {
	// http.DefaultClient: its transport validates the answers of the routes docs/openapi.yaml documents.
	return &padevice.Client{BaseURL: e.url, HTTP: http.DefaultClient, Version: v, Platform: "Android", DeviceInfo: "Pixel 9", Now: e.clock.Now}
}

const paPIN = "1234"

// activeDevice enrolls a device for a new user and commits it.
func (e *paEnv) activeDevice(ext string, v powerauth.Version) (*padevice.Client, *padevice.State, string) {
	e.t.Helper()
	userID := e.user(ext)
	a := e.initActivation(userID, nil)
	c := e.client(v)
	st, err := c.Activate(context.Background(), e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{Name: "phone"})
	if err != nil {
		e.t.Fatalf("activate: %v", err)
	}
	if status, r := e.bank("POST", "/v1/activations/"+st.ActivationID+"/commit", nil); status != 200 || r["status"] != "ACTIVE" {
		e.t.Fatalf("commit: %d %v", status, r)
	}
	return c, st, userID
}

func (e *paEnv) operation(userID, amount string) string {
	e.t.Helper()
	status, op := e.bank("POST", "/v1/operations", map[string]any{"user_id": userID, "type": "payment",
		"payee":  map[string]any{"account": "DE89 3704 0044 0532 0130 00", "name": "Electricity * Ltd"},
		"amount": amount, "currency": "EUR", "text": "Invoice 7"})
	if status != 201 {
		e.t.Fatalf("create operation: %d %v", status, op)
	}
	return op["id"].(string)
}

func (e *paEnv) credential(id string) store.Credential {
	e.t.Helper()
	c, err := e.st.GetCredential(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var pe *padevice.Error
	if !errors.As(err, &pe) || pe.HTTPStatus != status || pe.Code != code {
		t.Fatalf("got error %v, want %d %s", err, status, code)
	}
}

// samePrefixCode returns a different, CRC-valid activation code sharing the first two groups (the indexed
// half) with code: a guess by someone who saw half of the code.
func samePrefixCode(t *testing.T, code string) string {
	t.Helper()
	raw := strings.ReplaceAll(code, "-", "")
	b, err := base32.StdEncoding.DecodeString(raw + "====")
	if err != nil || len(b) != 12 {
		t.Fatalf("decode %s: %v", code, err)
	}
	for {
		g := append([]byte(nil), b[:10]...)
		_, _ = rand.Read(g[7:10])
		crc := crc16(g)
		g = append(g, byte(crc>>8), byte(crc))
		s := base32.StdEncoding.EncodeToString(g)[:20]
		guess := s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
		if guess != code && guess[:11] == code[:11] {
			if _, err := powerauth.ValidateActivationCode(guess); err == nil {
				return guess
			}
		}
	}
}

func crc16(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// recorder remembers the last request to a path so a test can replay it byte for byte.
type recorder struct {
	mu     sync.Mutex
	path   string
	header http.Header
	body   []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == r.path {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.header, r.body = req.Header.Clone(), b
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) replay(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	r.mu.Lock()
	req, _ := http.NewRequest("POST", base+r.path, bytes.NewReader(r.body))
	req.Header = r.header.Clone()
	r.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestPowerAuth runs the PowerAuth suite on SQLite and, when configured, on PostgreSQL.
func TestPowerAuth(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) *sqlstore.Store
	}{
		{"sqlite", func(t *testing.T) *sqlstore.Store { return sqltest.OpenSQLite(t) }},
		{"postgres", func(t *testing.T) *sqlstore.Store { return sqltest.OpenPostgres(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				if _, ok := sqltest.Postgres(t); !ok {
					t.Skip(sqltest.EnvPostgresURL + " not set; skipping PostgreSQL")
				}
			}
			e := newPAEnv(t, b.open(t))
			for _, tc := range []struct {
				name string
				fn   func(*testing.T, *paEnv)
			}{
				{"activation code guessing removes at the limit", testCodeGuessing},
				{"OTP guessing removes at the limit", testOTPGuessing},
				{"an activation code through another application", testCodeOfAnotherApplication},
				{"expired activation is removed", testActivationExpiry},
				{"ECIES replay and stale timestamps refused", testECIESReplayAndTime},
				{"wrong PINs block, unblock restores", testWrongPINs},
				{"counter look-ahead", testCounterLookahead},
				{"a decision spends its counter in its own statement", testDecisionSpendsCounter},
				{"the header's application key", testApplicationKey},
				{"token authentication", testTokenAuth},
				{"token removal", testTokenRemoval},
				{"approval attacks", testApprovalAttacks},
				{"forged approvals count nothing", testForgedApprovals},
				{"offline approval", testOfflineApproval},
				{"mobile-token amounts formatted per Accept-Language", testMobileAmounts},
				{"mobile-token history", testMobileHistory},
				{"mobile-token claim", testMobileClaim},
				{"user info", testUserInfo},
				{"push registration", testPushRegistration},
				{"inbox", testInbox},
				{"activation and approval 3.2", func(t *testing.T, e *paEnv) { testFullFlow(t, e, powerauth.Version32) }},
				{"activation and approval 3.3", func(t *testing.T, e *paEnv) { testFullFlow(t, e, powerauth.Version33) }},
				{"recovery 3.2", func(t *testing.T, e *paEnv) { testRecovery(t, e, powerauth.Version32) }},
				{"recovery 3.3", func(t *testing.T, e *paEnv) { testRecovery(t, e, powerauth.Version33) }},
				{"custom credentials 3.2", func(t *testing.T, e *paEnv) { testCustomActivation(t, e, powerauth.Version32) }},
				{"custom credentials 3.3", func(t *testing.T, e *paEnv) { testCustomActivation(t, e, powerauth.Version33) }},
				{"upgrade 3.2", func(t *testing.T, e *paEnv) { testUpgrade(t, e, powerauth.Version32) }},
				{"upgrade 3.3", func(t *testing.T, e *paEnv) { testUpgrade(t, e, powerauth.Version33) }},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
			}
		})
	}
}

func nextUser() string { return "pa-" + uuid.NewString() }

func testCodeGuessing(t *testing.T, e *paEnv) {
	userID := e.user(nextUser())
	a := e.initActivation(userID, map[string]any{"max_failed_attempts": 3})
	code := a["activation_code"].(string)
	c := e.client(powerauth.Version33)
	ctx := context.Background()
	tests := []struct {
		name       string
		code       string
		wantStatus string
		wantFailed float64
	}{
		{"malformed code is refused on the device", "AAAAA-AAAAA", "CREATED", 0},
		{"unknown code changes nothing", "AAAAA-AAAAA-AAAAA-AAAAA", "CREATED", 0},
		{"first wrong guess", samePrefixCode(t, code), "CREATED", 1},
		{"second wrong guess", samePrefixCode(t, code), "CREATED", 2},
		{"third wrong guess removes", samePrefixCode(t, code), "REMOVED", 3},
		{"the right code is too late", code, "REMOVED", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Activate(ctx, e.cfg, tt.code, paPIN, padevice.ActivateOptions{})
			if err == nil {
				t.Fatal("activation succeeded")
			}
			got := e.activation(a["id"].(string))
			if got["status"] != tt.wantStatus || got["failed_attempts"] != tt.wantFailed {
				t.Fatalf("activation %v/%v failed attempts, want %s/%v", got["status"], got["failed_attempts"], tt.wantStatus, tt.wantFailed)
			}
		})
	}
}

// testCodeOfAnotherApplication: the right activation code sent through another application's key is
// refused with its audited reason, counts no failed attempt, and leaves the code usable by its own
// application.
func testCodeOfAnotherApplication(t *testing.T, e *paEnv) {
	ctx := context.Background()
	userID := e.user(nextUser())
	a := e.initActivation(userID, nil)
	status, other := e.bank("POST", "/v1/applications", map[string]any{"name": "Another app " + nextUser()})
	if status != 201 {
		t.Fatalf("create application: %d %v", status, other)
	}
	otherCfg, err := padevice.ParseAppConfig(other["mobile_sdk_config"].(string))
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(powerauth.Version33)
	_, err = c.Activate(ctx, otherCfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{})
	wantCode(t, err, 400, "ERR_ACTIVATION") // PowerAuth's answer to any refused activation create
	if got := e.activation(a["id"].(string)); got["status"] != "CREATED" || got["failed_attempts"] != float64(0) {
		t.Fatalf("activation %v with %v failed attempts, want CREATED with 0", got["status"], got["failed_attempts"])
	}
	evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{CredentialID: a["id"].(string), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if ev := evs[len(evs)-1]; ev.Type != "powerauth.activation.key_exchange" || ev.Outcome != audit.Failure ||
		ev.Reason != "activation belongs to another application" {
		t.Fatalf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
	}
	if _, err := c.Activate(ctx, e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{}); err != nil {
		t.Fatalf("the code through its own application: %v", err)
	}
}

func testOTPGuessing(t *testing.T, e *paEnv) {
	ctx := context.Background()
	t.Run("at key exchange", func(t *testing.T) {
		userID := e.user(nextUser())
		a := e.initActivation(userID, map[string]any{"otp": "55667788", "commit_phase": "ON_KEY_EXCHANGE"})
		id, code := a["id"].(string), a["activation_code"].(string)
		c := e.client(powerauth.Version32)
		for i, otp := range []string{"", "11111111", "22222222", "33333333", "44444444"} {
			_, err := c.Activate(ctx, e.cfg, code, paPIN, padevice.ActivateOptions{OTP: otp})
			wantCode(t, err, 400, "ERR_ACTIVATION")
			want := "CREATED"
			if i == 4 {
				want = "REMOVED"
			}
			if got := e.activation(id); got["status"] != want || got["failed_attempts"] != float64(i+1) {
				t.Fatalf("after %d wrong OTPs: %v", i+1, got)
			}
		}
		_, err := c.Activate(ctx, e.cfg, code, paPIN, padevice.ActivateOptions{OTP: "55667788"})
		wantCode(t, err, 400, "ERR_ACTIVATION")
	})
	t.Run("at key exchange, right OTP activates at once", func(t *testing.T) {
		userID := e.user(nextUser())
		a := e.initActivation(userID, map[string]any{"otp": "55667788", "commit_phase": "ON_KEY_EXCHANGE"})
		c := e.client(powerauth.Version33)
		_, err := c.Activate(ctx, e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{OTP: "00000000"})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		st, err := c.Activate(ctx, e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{OTP: "55667788"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.activation(st.ActivationID); got["status"] != "ACTIVE" || got["failed_attempts"] != float64(0) {
			t.Fatalf("activation %v", got)
		}
	})
	t.Run("at commit", func(t *testing.T) {
		userID := e.user(nextUser())
		a := e.initActivation(userID, map[string]any{"otp": "99887766", "max_failed_attempts": 2})
		id := a["id"].(string)
		if _, err := e.client(powerauth.Version33).Activate(ctx, e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name       string
			body       any
			wantStatus int
			wantState  string
		}{
			{"missing OTP", nil, 400, "PENDING_COMMIT"},
			{"wrong OTP removes at the limit", map[string]any{"otp": "00000000"}, 410, "REMOVED"},
			{"right OTP after removal", map[string]any{"otp": "99887766"}, 409, "REMOVED"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, r := e.bank("POST", "/v1/activations/"+id+"/commit", tt.body)
				if status != tt.wantStatus {
					t.Fatalf("commit: %d %v", status, r)
				}
				if got := e.activation(id); got["status"] != tt.wantState {
					t.Fatalf("activation %v", got)
				}
			})
		}
	})
}

func testActivationExpiry(t *testing.T, e *paEnv) {
	ctx := context.Background()
	userID := e.user(nextUser())
	created := e.initActivation(userID, map[string]any{"expires_in": 60})
	pending := e.initActivation(userID, map[string]any{"expires_in": 60})
	swept := e.initActivation(userID, map[string]any{"expires_in": 60})
	c := e.client(powerauth.Version33)
	if _, err := c.Activate(ctx, e.cfg, pending["activation_code"].(string), paPIN, padevice.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(61 * time.Second)

	n, err := e.act.ExpireDue(ctx)
	if err != nil || n < 3 {
		t.Fatalf("ExpireDue = %d, %v; want at least the 3 activations of this test", n, err)
	}
	for _, a := range []map[string]any{created, pending, swept} {
		got := e.activation(a["id"].(string))
		if got["status"] != "REMOVED" || got["activation_code"] != nil {
			t.Fatalf("expired activation: %v", got)
		}
	}
	_, err = c.Activate(ctx, e.cfg, created["activation_code"].(string), paPIN, padevice.ActivateOptions{})
	wantCode(t, err, 400, "ERR_ACTIVATION")
	if status, _ := e.bank("POST", "/v1/activations/"+pending["id"].(string)+"/commit", nil); status != 409 {
		t.Fatalf("commit of an expired activation: %d", status)
	}

	t.Run("expiry on read", func(t *testing.T) {
		a := e.initActivation(userID, map[string]any{"expires_in": 30})
		e.clock.Advance(31 * time.Second)
		if got := e.activation(a["id"].(string)); got["status"] != "REMOVED" {
			t.Fatalf("activation %v", got)
		}
	})
}

func testECIESReplayAndTime(t *testing.T, e *paEnv) {
	ctx := context.Background()
	t.Run("replayed request is refused before it is processed", func(t *testing.T) {
		userID := e.user(nextUser())
		a := e.initActivation(userID, nil)
		id, code := a["id"].(string), a["activation_code"].(string)
		rec := &recorder{path: "/pa/v3/activation/create"}
		c := e.client(powerauth.Version33)
		c.HTTP = &http.Client{Transport: rec}
		_, err := c.Activate(ctx, e.cfg, samePrefixCode(t, code), paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		if got := e.activation(id); got["failed_attempts"] != float64(1) {
			t.Fatalf("after one wrong code: %v", got)
		}
		status, body := rec.replay(t, e.url)
		if status != 400 {
			t.Fatalf("replay: %d %v", status, body)
		}
		if got := e.activation(id); got["failed_attempts"] != float64(1) {
			t.Fatalf("the replay was processed: %v", got)
		}
		evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Type != "powerauth.activation.key_exchange" || !strings.Contains(last.Reason, "replayed") {
			t.Fatalf("last audit event %s %q, want a refused replay", last.Type, last.Reason)
		}
	})
	for _, v := range []powerauth.Version{powerauth.Version32, powerauth.Version33} {
		for _, skew := range []time.Duration{-2 * time.Minute, 2 * time.Minute} {
			t.Run("timestamp "+skew.String()+" "+v.String(), func(t *testing.T) {
				userID := e.user(nextUser())
				a := e.initActivation(userID, nil)
				c := e.client(v)
				c.Now = func() time.Time { return e.clock.Now().Add(skew) }
				_, err := c.Activate(ctx, e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{})
				if v == powerauth.Version33 {
					wantCode(t, err, 400, "ERR_TEMPORARY_KEY") // the keystore JWT is refused first
				} else {
					wantCode(t, err, 400, "ERR_ACTIVATION")
				}
				if got := e.activation(a["id"].(string)); got["status"] != "CREATED" || got["failed_attempts"] != float64(0) {
					t.Fatalf("activation %v", got)
				}
			})
		}
	}
	t.Run("stale activation-scope request", func(t *testing.T) {
		c, st, _ := e.activeDevice(nextUser(), powerauth.Version32)
		c.Now = func() time.Time { return e.clock.Now().Add(-2 * time.Minute) }
		_, err := c.CreateToken(ctx, st, powerauth.SignaturePossession, "")
		wantCode(t, err, 400, "ERR_ENCRYPTION")
	})
}

func testWrongPINs(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, _ := e.activeDevice(nextUser(), powerauth.Version33)
	validate := func(pin string) error {
		return c.ValidateSignature(ctx, st, powerauth.SignaturePossessionKnowledge, pin, []byte(`{"requestObject":{}}`))
	}
	// A success resets the count.
	for range 2 {
		wantCode(t, validate("0000"), 401, "ERR_AUTHENTICATION")
	}
	if got := e.credential(st.ActivationID); got.FailedAttempts != 2 {
		t.Fatalf("failed attempts %d, want 2", got.FailedAttempts)
	}
	if err := validate(paPIN); err != nil {
		t.Fatal(err)
	}
	if got := e.credential(st.ActivationID); got.FailedAttempts != 0 {
		t.Fatalf("failed attempts %d after a success, want 0", got.FailedAttempts)
	}
	// Possession-only failures do not count.
	bad := *st
	bad.PossessionKey = bytes.Repeat([]byte{1}, 16)
	wantCode(t, c.ValidateSignature(ctx, &bad, powerauth.SignaturePossession, "", nil), 401, "ERR_AUTHENTICATION")
	if got := e.credential(st.ActivationID); got.FailedAttempts != 0 {
		t.Fatalf("possession failure counted: %d", got.FailedAttempts)
	}
	st.Counter, st.CounterData = bad.Counter, bad.CounterData

	for i := 1; i <= 5; i++ {
		wantCode(t, validate("9999"), 401, "ERR_AUTHENTICATION")
		got := e.credential(st.ActivationID)
		want := store.StatusActive
		if i == 5 {
			want = store.StatusBlocked
		}
		if got.FailedAttempts != i || got.Status != want {
			t.Fatalf("after %d wrong PINs: %s with %d failures", i, got.Status, got.FailedAttempts)
		}
	}
	if got := e.credential(st.ActivationID); got.BlockReason != store.ReasonMaxFailedAttempts {
		t.Fatalf("block reason %q", got.BlockReason)
	}
	wantCode(t, validate(paPIN), 401, "ERR_AUTHENTICATION")
	s, err := c.Status(ctx, st)
	if err != nil || s.State != "BLOCKED" || s.FailedAttempts != 5 || s.MaxFailedAttempts != 5 {
		t.Fatalf("status %+v, %v", s, err)
	}

	if status, r := e.bank("POST", "/v1/credentials/"+st.ActivationID+"/unblock", nil); status != 200 || r["status"] != "ACTIVE" {
		t.Fatalf("unblock: %d %v", status, r)
	}
	if err := validate(paPIN); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
	if s, err := c.Status(ctx, st); err != nil || s.State != "ACTIVE" || s.FailedAttempts != 0 || !s.CounterSynced {
		t.Fatalf("status %+v, %v", s, err)
	}
}

func testCounterLookahead(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, _ := e.activeDevice(nextUser(), powerauth.Version33)
	tests := []struct {
		name  string
		ahead int
		ok    bool
	}{
		{"20 ahead is beyond the window", 20, false},
		{"in step", 0, true},
		{"19 ahead is the edge of the window", 19, true},
		{"1 ahead", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := *st
			if err := st.AdvanceCounter(tt.ahead); err != nil {
				t.Fatal(err)
			}
			err := c.ValidateSignature(ctx, st, powerauth.SignaturePossession, "", []byte("{}"))
			if tt.ok != (err == nil) {
				t.Fatalf("ahead %d: %v", tt.ahead, err)
			}
			if !tt.ok {
				*st = saved // the server never moved: go back in step
				return
			}
			if got := e.credential(st.ActivationID); got.Counter != st.Counter {
				t.Fatalf("server counter %d, device %d", got.Counter, st.Counter)
			}
		})
	}
	t.Run("status catches a device up with the server", func(t *testing.T) {
		behind := *st
		if err := c.ValidateSignature(ctx, st, powerauth.SignaturePossession, "", nil); err != nil {
			t.Fatal(err)
		}
		s, err := c.Status(ctx, &behind)
		if err != nil || !s.CounterSynced || behind.Counter != st.Counter || !bytes.Equal(behind.CounterData, st.CounterData) {
			t.Fatalf("status %+v %v: counter %d, want %d", s, err, behind.Counter, st.Counter)
		}
	})
}

// testDecisionSpendsCounter: an approval, a rejection and an offline approval store the counter and CTR_DATA
// one past the signature's, exactly where the device's next signature starts, with the decision itself: the
// activation is written once (its version moves by one; the separate read and compare-and-swap after the
// decision made it two). The device's next signature verifies; the replayed approval is refused and moves
// nothing back.
func testDecisionSpendsCounter(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	// spent runs decide and checks the activation after it against the device.
	spent := func(t *testing.T, decide func() error) {
		t.Helper()
		before := e.credential(st.ActivationID)
		if err := decide(); err != nil {
			t.Fatal(err)
		}
		after := e.credential(st.ActivationID)
		var d struct {
			CtrData string `json:"ctr_data"`
		}
		if err := json.Unmarshal(after.Data, &d); err != nil {
			t.Fatal(err)
		}
		if after.Counter != st.Counter || d.CtrData != base64.StdEncoding.EncodeToString(st.CounterData) {
			t.Fatalf("stored counter %d with CTR_DATA %s, the device is at %d with %s", after.Counter, d.CtrData,
				st.Counter, base64.StdEncoding.EncodeToString(st.CounterData))
		}
		if after.Version != before.Version+1 {
			t.Fatalf("the decision wrote the activation %d times, want once with the decision", after.Version-before.Version)
		}
		if after.LastUsedAt == nil || !after.LastUsedAt.Equal(e.clock.Now()) {
			t.Fatalf("last used %v, want %v", after.LastUsedAt, e.clock.Now())
		}
	}
	approve := func(t *testing.T) {
		id := e.operation(userID, "42.00")
		op, err := c.OperationDetail(ctx, st, id)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": op.ID, "data": op.Data}})
		hdr, err := c.SignatureHeader(st, "POST", "/operation/authorize", body, powerauth.SignaturePossessionKnowledge, paPIN)
		if err != nil {
			t.Fatal(err)
		}
		spent(t, func() error { return paPost(e.url+"/api/auth/token/app/operation/authorize", hdr, body) })
		stored := e.credential(st.ActivationID)
		wantCode(t, paPost(e.url+"/api/auth/token/app/operation/authorize", hdr, body), 400, "OPERATION_ALREADY_FINISHED")
		if again := e.credential(st.ActivationID); again.Counter != stored.Counter || !bytes.Equal(again.Data, stored.Data) {
			t.Fatalf("the replay moved the counter from %d to %d", stored.Counter, again.Counter)
		}
	}
	t.Run("approval in step", approve)
	t.Run("approval ahead within the window", func(t *testing.T) {
		if err := st.AdvanceCounter(5); err != nil {
			t.Fatal(err)
		}
		approve(t)
	})
	t.Run("possession-only rejection", func(t *testing.T) {
		id := e.operation(userID, "7.00")
		spent(t, func() error { return c.Reject(ctx, st, id, padevice.ReasonIncorrectData) })
	})
	t.Run("offline approval", func(t *testing.T) {
		id := e.operation(userID, "8.00")
		status, qr := e.bank("GET", "/v1/operations/"+id+"/offline?credential_id="+st.ActivationID, nil)
		if status != 200 {
			t.Fatalf("offline payload: %d %v", status, qr)
		}
		_, code, err := padevice.OfflineCode(st, qr["qr_payload"].(string), paPIN)
		if err != nil {
			t.Fatal(err)
		}
		spent(t, func() error {
			status, r := e.bank("POST", "/v1/operations/"+id+"/offline-verify", map[string]any{"credential_id": st.ActivationID, "code": code})
			if status != 200 || r["status"] != "APPROVED" {
				return fmt.Errorf("offline verify: %d %v", status, r)
			}
			return nil
		})
	})
	t.Run("the next signature verifies", func(t *testing.T) {
		if err := c.ValidateSignature(ctx, st, powerauth.SignaturePossessionKnowledge, paPIN, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if got := e.credential(st.ActivationID); got.Counter != st.Counter {
			t.Fatalf("server counter %d, device %d", got.Counter, st.Counter)
		}
	})
}

// testApplicationKey: a signed request's application key must name the activation's own ACTIVE application
// (read with the activation in one statement): another application's key, an unknown key and the key of an
// application no longer ACTIVE are refused and audited as unverified with the reason; the right key verifies.
func testApplicationKey(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, _ := e.activeDevice(nextUser(), powerauth.Version33)
	status, other := e.bank("POST", "/v1/applications", map[string]any{"name": "Another app"})
	if status != 201 {
		t.Fatalf("create application: %d %v", status, other)
	}
	otherCfg, err := padevice.ParseAppConfig(other["mobile_sdk_config"].(string))
	if err != nil {
		t.Fatal(err)
	}
	appID := e.app["id"].(string)
	setStatus := func(status string) {
		if _, err := e.st.UpdateApplication(ctx, appID, func(a *store.Application) error { a.Status = status; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, key, secret string) {
		t.Helper()
		bad := *st
		bad.ApplicationKey, bad.ApplicationSecret = key, secret
		wantCode(t, c.ValidateSignature(ctx, &bad, powerauth.SignaturePossession, "", []byte("{}")), 401, "ERR_AUTHENTICATION")
		evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{CredentialID: st.ActivationID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if ev := evs[len(evs)-1]; ev.Type != "powerauth.signature.validate" || ev.Outcome != audit.Unverified ||
			ev.Reason != "application key does not match the activation" {
			t.Fatalf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
		}
	}
	t.Run("another application's key", func(t *testing.T) {
		refused(t, otherCfg.ApplicationKey, otherCfg.ApplicationSecret)
	})
	t.Run("an unknown key", func(t *testing.T) {
		refused(t, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)), st.ApplicationSecret)
	})
	t.Run("the key of an application no longer active", func(t *testing.T) {
		setStatus("REMOVED")
		defer setStatus(activation.AppActive)
		refused(t, st.ApplicationKey, st.ApplicationSecret)
	})
	t.Run("the right key", func(t *testing.T) {
		if err := c.ValidateSignature(ctx, st, powerauth.SignaturePossession, "", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	})
}

func testTokenAuth(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	e.operation(userID, "12.50")
	if _, err := c.CreateToken(ctx, st, powerauth.SignaturePossession, ""); err != nil {
		t.Fatal(err)
	}
	list := func(header string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.url+"/api/auth/token/app/operation/list", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(powerauth.HeaderToken, header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	good, err := c.TokenHeader(st)
	if err != nil {
		t.Fatal(err)
	}
	stale := e.client(powerauth.Version33)
	stale.Now = func() time.Time { return e.clock.Now().Add(-10 * time.Minute) }
	staleHdr, _ := stale.TokenHeader(st)
	wrong := *st
	wrong.Token = &padevice.Token{ID: st.Token.ID, Secret: bytes.Repeat([]byte{3}, 16), SignatureType: "possession"}
	wrongHdr, _ := c.TokenHeader(&wrong)
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no header", "", 401},
		{"malformed", "PowerAuth token_id=x", 401},
		{"wrong secret", wrongHdr, 401},
		{"stale timestamp", staleHdr, 401},
		{"good", good, 200},
		{"replayed nonce", good, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := list(tt.header)
			if status != tt.status {
				t.Fatalf("status %d %v, want %d", status, body, tt.status)
			}
			if status == 401 {
				ro, _ := body["responseObject"].(map[string]any)
				if body["status"] != "ERROR" || ro["code"] != "POWERAUTH_AUTH_FAIL" {
					t.Fatalf("error envelope %v", body)
				}
			} else if ops, _ := body["responseObject"].([]any); len(ops) != 1 {
				t.Fatalf("operations %v", body)
			}
		})
	}
	t.Run("token of a blocked activation", func(t *testing.T) {
		if status, _ := e.bank("POST", "/v1/credentials/"+st.ActivationID+"/block", map[string]any{"reason": "LOST_DEVICE"}); status != 200 {
			t.Fatal("block failed")
		}
		_, err := c.ListOperations(ctx, st) // the token is refused, and a new one cannot be created
		wantCode(t, err, 401, "ERR_AUTHENTICATION")
	})
}

// testTokenRemoval: /pa/v3/token/remove revokes a token at once; only its own activation can remove it (another
// activation's signed request for it is refused and the token keeps working until its owner removes it).
func testTokenRemoval(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	other, otherSt, _ := e.activeDevice(nextUser(), powerauth.Version33)
	e.operation(userID, "3.00")
	if _, err := c.CreateToken(ctx, st, powerauth.SignaturePossession, ""); err != nil {
		t.Fatal(err)
	}
	token := *st.Token
	// list asks for the operations with exactly this token (the SDK client would fetch a new one on a refusal).
	list := func() int {
		with := *st
		with.Token = &token
		hdr, err := c.TokenHeader(&with)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", e.url+"/api/auth/token/app/operation/list", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(powerauth.HeaderToken, hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := list(); s != 200 {
		t.Fatalf("the fresh token: %d", s)
	}
	// lastRemoval is the newest audited token removal.
	lastRemoval := func() store.AuditEvent {
		evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Type == "powerauth.token.remove" {
				return evs[i]
			}
		}
		t.Fatal("no powerauth.token.remove audit event")
		return store.AuditEvent{}
	}
	// Another activation names this token in its own signed request: refused, and the token still works.
	otherSt.Token = &padevice.Token{ID: token.ID, Secret: token.Secret, SignatureType: token.SignatureType}
	wantCode(t, other.RemoveToken(ctx, otherSt), 401, "ERR_AUTHENTICATION")
	if ev := lastRemoval(); ev.Outcome != audit.Failure || ev.CredentialID != otherSt.ActivationID ||
		ev.Reason != "token of another activation, or unknown" {
		t.Fatalf("audited %s %q by %s, want the other activation's refusal", ev.Outcome, ev.Reason, ev.CredentialID)
	}
	if s := list(); s != 200 {
		t.Fatalf("the token after another activation's removal attempt: %d", s)
	}
	c.HTTP = http.DefaultClient // so that the answer is checked against docs/openapi.yaml (openapi_live_test.go)
	if err := c.RemoveToken(ctx, st); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if st.Token != nil {
		t.Fatal("the device kept the removed token")
	}
	if s := list(); s != 401 {
		t.Fatalf("the removed token: %d, want 401", s)
	}
}

func testApprovalAttacks(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	_, _, otherUser := e.activeDevice(nextUser(), powerauth.Version33)
	opID := e.operation(userID, "250.00")
	otherOp := e.operation(otherUser, "1.00")
	op, err := c.OperationDetail(ctx, st, opID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OperationDetail(ctx, st, otherOp); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("detail of another user's operation: %v", err)
	}
	changed := op
	changed.Data = strings.Replace(op.Data, "A250.00EUR", "A25.00EUR", 1)
	foreign, err := c.OperationDetail(ctx, st, opID)
	if err != nil {
		t.Fatal(err)
	}
	foreign.ID = otherOp

	tests := []struct {
		name       string
		run        func() error
		code       string
		credFailed int
		opFailed   int
	}{
		// A valid signature over other data counts on the operation only (the user's factors were right; as
		// Wultra's MobileTokenController), a wrong PIN behind a valid possession component counts on both,
		// anything whose possession component does not verify on none.
		{"changed amount", func() error { return c.Approve(ctx, st, changed, paPIN) }, "POWERAUTH_AUTH_FAIL", 0, 1},
		{"wrong PIN", func() error { return c.Approve(ctx, st, op, "0000") }, "POWERAUTH_AUTH_FAIL", 1, 2},
		{"possession only", func() error {
			body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": op.ID, "data": op.Data}})
			hdr, err := c.SignatureHeader(st, "POST", "/operation/authorize", body, powerauth.SignaturePossession, "")
			if err != nil {
				return err
			}
			return paPost(e.url+"/api/auth/token/app/operation/authorize", hdr, body)
		}, "POWERAUTH_AUTH_FAIL", 1, 2}, // refused unchecked: counts nothing
		{"another user's operation", func() error { return c.Approve(ctx, st, foreign, paPIN) }, "POWERAUTH_AUTH_FAIL", 1, 2},
		{"another device's possession key, right PIN", func() error {
			bad := *st
			bad.PossessionKey = bytes.Repeat([]byte{7}, 16)
			bad.CounterData = append([]byte(nil), st.CounterData...)
			return c.Approve(ctx, &bad, op, paPIN)
		}, "POWERAUTH_AUTH_FAIL", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !padevice.IsCode(err, tt.code) {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
			cred := e.credential(st.ActivationID)
			o, _ := e.st.GetOperation(ctx, opID)
			if cred.FailedAttempts != tt.credFailed || o.FailedAttempts != tt.opFailed || o.Status != store.OpPending {
				t.Fatalf("credential failures %d (want %d), operation %s with %d failures (want %d)",
					cred.FailedAttempts, tt.credFailed, o.Status, o.FailedAttempts, tt.opFailed)
			}
		})
	}
	t.Run("a possession-only reject does not reset PIN failures", func(t *testing.T) {
		if err := c.Reject(ctx, st, opID, padevice.ReasonIncorrectData); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.st.GetOperation(ctx, opID); o.Status != store.OpRejected {
			t.Fatalf("operation %s", o.Status)
		}
		if cred := e.credential(st.ActivationID); cred.FailedAttempts != 1 {
			t.Fatalf("failed attempts %d, want 1", cred.FailedAttempts)
		}
		err := c.Approve(ctx, st, op, paPIN)
		wantCode(t, err, 400, "OPERATION_ALREADY_FINISHED")
	})
	t.Run("operation fails at its limit", func(t *testing.T) {
		id := e.operation(userID, "3.00")
		o, err := c.OperationDetail(ctx, st, id)
		if err != nil {
			t.Fatal(err)
		}
		bad := o
		bad.Data += "*Nx"
		// A good PIN signature resets the failure above; then five approvals of the wrong data with the right
		// PIN: the operation FAILS at 5, and the activation stays ACTIVE with no failure (the user's factors
		// were right; only the operation's attempts count, as Wultra's MobileTokenController).
		if err := c.ValidateSignature(ctx, st, powerauth.SignaturePossessionKnowledge, paPIN, nil); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			wantCode(t, c.Approve(ctx, st, bad, paPIN), 401, "POWERAUTH_AUTH_FAIL")
		}
		if o, _ := e.st.GetOperation(ctx, id); o.Status != store.OpFailed {
			t.Fatalf("operation %s", o.Status)
		}
		if cred := e.credential(st.ActivationID); cred.Status != store.StatusActive || cred.FailedAttempts != 0 {
			t.Fatalf("activation %s with %d failures, want ACTIVE with 0", cred.Status, cred.FailedAttempts)
		}
		wantCode(t, c.Approve(ctx, st, o, paPIN), 400, "OPERATION_ALREADY_FAILED")
	})
}

// testForgedApprovals (issue 13 item 2): twenty approvals whose possession component does not verify
// (another device's possession key with the right PIN, a possession-only signature by another key, a
// garbage signature) or that come from another user's activation leave the operation PENDING with no
// failed attempt and the activation ACTIVE with none; the audit API shows each as unverified; the user
// still approves.
func testForgedApprovals(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	mc, mst, _ := e.activeDevice(nextUser(), powerauth.Version33)
	opID := e.operation(userID, "980.00")
	op, err := c.OperationDetail(ctx, st, opID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": op.ID, "data": op.Data}})
	impostor := func() *padevice.State {
		bad := *st
		bad.PossessionKey = bytes.Repeat([]byte{7}, 16)
		bad.CounterData = append([]byte(nil), st.CounterData...)
		return &bad
	}
	forgeries := []struct {
		name string
		run  func() error
	}{
		{"another device's possession key, right PIN", func() error { return c.Approve(ctx, impostor(), op, paPIN) }},
		{"possession-only signature by another key", func() error {
			hdr, err := c.SignatureHeader(impostor(), "POST", "/operation/authorize", body, powerauth.SignaturePossession, "")
			if err != nil {
				return err
			}
			return paPost(e.url+"/api/auth/token/app/operation/authorize", hdr, body)
		}},
		{"garbage signature", func() error {
			hdr, err := c.SignatureHeader(impostor(), "POST", "/operation/authorize", body, powerauth.SignaturePossessionKnowledge, paPIN)
			if err != nil {
				return err
			}
			i := strings.Index(hdr, `pa_signature="`) + len(`pa_signature="`)
			j := i + strings.Index(hdr[i:], `"`)
			hdr = hdr[:i] + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32)) + hdr[j:]
			return paPost(e.url+"/api/auth/token/app/operation/authorize", hdr, body)
		}},
		{"another user's valid signature", func() error { return mc.Approve(ctx, mst, op, paPIN) }},
	}
	for i := range 20 {
		f := forgeries[i%len(forgeries)]
		if err := f.run(); !padevice.IsCode(err, "POWERAUTH_AUTH_FAIL") {
			t.Fatalf("%s: got %v, want POWERAUTH_AUTH_FAIL", f.name, err)
		}
	}
	o, _ := e.st.GetOperation(ctx, opID)
	cred := e.credential(st.ActivationID)
	if o.Status != store.OpPending || o.FailedAttempts != 0 || cred.Status != store.StatusActive || cred.FailedAttempts != 0 {
		t.Fatalf("after forgeries: operation %s with %d failures, activation %s with %d, want PENDING/0 and ACTIVE/0",
			o.Status, o.FailedAttempts, cred.Status, cred.FailedAttempts)
	}
	status, trail := e.bank("GET", "/v1/audit?operation_id="+opID, nil)
	if status != 200 {
		t.Fatalf("audit API: %d", status)
	}
	unverified := 0
	for _, ev := range trail["events"].([]any) {
		m := ev.(map[string]any)
		if m["type"] == "operation.approve" {
			if m["outcome"] != "unverified" {
				t.Fatalf("forged approval audited %v %v", m["outcome"], m["reason"])
			}
			unverified++
		}
	}
	if unverified != 20 {
		t.Fatalf("%d unverified approvals in the audit API, want 20", unverified)
	}
	if err := c.Approve(ctx, st, op, paPIN); err != nil {
		t.Fatalf("the genuine device after forgeries: %v", err)
	}
	if o, _ := e.st.GetOperation(ctx, opID); o.Status != store.OpApproved {
		t.Fatalf("operation %s", o.Status)
	}
}

func paPost(url, authorization string, body []byte) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(powerauth.HeaderAuthorization, authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		ResponseObject struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"responseObject"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != 200 {
		return &padevice.Error{HTTPStatus: resp.StatusCode, Code: env.ResponseObject.Code, Message: env.ResponseObject.Message}
	}
	return nil
}

func testOfflineApproval(t *testing.T, e *paEnv) {
	_, st, userID := e.activeDevice(nextUser(), powerauth.Version32)
	opID := e.operation(userID, "75.00")
	status, qr := e.bank("GET", "/v1/operations/"+opID+"/offline?credential_id="+st.ActivationID, nil)
	if status != 200 {
		t.Fatalf("offline payload: %d %v", status, qr)
	}
	payload := qr["qr_payload"].(string)
	p, code, err := padevice.OfflineCode(st, payload, "0000")
	if err != nil {
		t.Fatal(err)
	}
	if p.OperationID != opID || !strings.HasPrefix(p.OperationData, "A1*A75.00EUR*IDE89370400440532013000*TElectricity \\* Ltd") {
		t.Fatalf("payload %+v", p)
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		failed int
	}{
		{"malformed code", map[string]any{"credential_id": st.ActivationID, "code": "12a45678-12345678"}, 400, 0},
		{"unknown credential", map[string]any{"credential_id": opID, "code": "12345678-12345678"}, 400, 0},
		{"wrong PIN", map[string]any{"credential_id": st.ActivationID, "code": code}, 401, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, r := e.bank("POST", "/v1/operations/"+opID+"/offline-verify", tt.body)
			if status != tt.status {
				t.Fatalf("offline verify: %d %v", status, r)
			}
			if got := e.credential(st.ActivationID); got.FailedAttempts != tt.failed {
				t.Fatalf("failed attempts %d, want %d", got.FailedAttempts, tt.failed)
			}
		})
	}
	_, code, err = padevice.OfflineCode(st, payload, paPIN)
	if err != nil {
		t.Fatal(err)
	}
	status, r := e.bank("POST", "/v1/operations/"+opID+"/offline-verify", map[string]any{"credential_id": st.ActivationID, "code": code})
	if status != 200 || r["status"] != "APPROVED" || r["token"] == nil {
		t.Fatalf("offline verify: %d %v", status, r)
	}
	if status, r := e.bank("POST", "/v1/tokens/consume", map[string]any{"token": r["token"]}); status != 200 {
		t.Fatalf("consume: %d %v", status, r)
	}
	if status, _ := e.bank("POST", "/v1/operations/"+opID+"/offline-verify", map[string]any{"credential_id": st.ActivationID, "code": code}); status != 409 {
		t.Fatalf("second verify: %d", status)
	}
}

func testFullFlow(t *testing.T, e *paEnv, v powerauth.Version) {
	ctx := context.Background()
	userID := e.user(nextUser())
	a := e.initActivation(userID, nil)
	if a["status"] != "CREATED" || a["qr_payload"] == nil || a["activation_signature"] == nil || a["expires_at"] == nil {
		t.Fatalf("init: %v", a)
	}
	c := e.client(v)
	st, err := c.Activate(ctx, e.cfg, a["qr_payload"].(string), paPIN, padevice.ActivateOptions{Name: "Jana's phone"})
	if err != nil {
		t.Fatal(err)
	}
	got := e.activation(st.ActivationID)
	if got["status"] != "PENDING_COMMIT" || got["fingerprint"] != st.Fingerprint || got["activation_name"] != "Jana's phone" ||
		got["platform"] != "Android" || got["activation_code"] != nil {
		t.Fatalf("after key exchange: %v (device fingerprint %s)", got, st.Fingerprint)
	}
	if s, err := c.Status(ctx, st); err != nil || s.State != "PENDING_COMMIT" {
		t.Fatalf("status %+v %v", s, err)
	}
	if _, err := c.ListOperations(ctx, st); !padevice.IsCode(err, "ERR_AUTHENTICATION") {
		t.Fatalf("token before commit: %v", err)
	}
	if status, r := e.bank("POST", "/v1/activations/"+st.ActivationID+"/commit", nil); status != 200 || r["status"] != "ACTIVE" {
		t.Fatalf("commit: %d %v", status, r)
	}
	if s, err := c.Status(ctx, st); err != nil || s.State != "ACTIVE" {
		t.Fatalf("status %+v %v", s, err)
	}

	opID := e.operation(userID, "100")
	ops, err := c.ListOperations(ctx, st)
	if err != nil || len(ops) != 1 || ops[0].ID != opID {
		t.Fatalf("list: %v %+v", err, ops)
	}
	const wantData = `A1*A100.00EUR*IDE89370400440532013000*TElectricity \* Ltd*NInvoice 7`
	if ops[0].Data != wantData || ops[0].AllowedSignatureType.Type != "2FA" || ops[0].FormData.Title == "" {
		t.Fatalf("operation %+v", ops[0])
	}
	if err := c.Approve(ctx, st, ops[0], paPIN); err != nil {
		t.Fatal(err)
	}
	status, op := e.bank("GET", "/v1/operations/"+opID, nil)
	if status != 200 || op["status"] != "APPROVED" || op["token"] == nil || op["approved_credential_id"] != st.ActivationID {
		t.Fatalf("operation after approval: %d %v", status, op)
	}
	status, consumed := e.bank("POST", "/v1/tokens/consume", map[string]any{"token": op["token"]})
	claims, _ := consumed["claims"].(map[string]any)
	if status != 200 || claims["op"] != opID {
		t.Fatalf("consume: %d %v", status, consumed)
	}
	if amr, _ := json.Marshal(claims["amr"]); !strings.Contains(string(amr), `"pin"`) {
		t.Fatalf("amr %s", amr)
	}
	evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{OperationID: opID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.Type == "operation.approve" && ev.Outcome == audit.Success {
			found = strings.Contains(string(ev.Evidence), `"possession_knowledge"`) &&
				strings.Contains(string(ev.Evidence), `"uri_id":"/operation/authorize"`)
		}
	}
	if !found {
		t.Fatalf("no approval evidence in %d audit events", len(evs))
	}

	t.Run("vault unlock and device key", func(t *testing.T) {
		sig, err := c.SignWithDeviceKey(ctx, st, paPIN, []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := powerauth.ParsePublicKey(st.DevicePublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.VerifyECDSA([]byte("hello"), sig); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UnlockVault(ctx, st, "0000"); !padevice.IsCode(err, "ERR_AUTHENTICATION") {
			t.Fatalf("vault with a wrong PIN: %v", err)
		}
	})
	t.Run("biometry approval", func(t *testing.T) {
		id := e.operation(userID, "5.00")
		o, err := c.OperationDetail(ctx, st, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ApproveWithBiometry(ctx, st, o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := c.Remove(ctx, st, paPIN); err != nil {
			t.Fatal(err)
		}
		if s, err := c.Status(ctx, st); err != nil || s.State != "REMOVED" {
			t.Fatalf("status %+v %v", s, err)
		}
		if got := e.activation(st.ActivationID); got["status"] != "REMOVED" {
			t.Fatalf("activation %v", got)
		}
	})
}

// TestPowerAuthRoutesDocumented: every /v1 route the PowerAuth service adds is in docs/openapi.yaml, and
// every /pa/v3 and mobile-token route is in docs/powerauth.md.
func TestPowerAuthRoutesDocumented(t *testing.T) {
	// The /v1 routes are checked against docs/openapi.yaml by
	// TestOpenAPICoversEveryRoute; the PowerAuth-shaped device routes are
	// documented in docs/powerauth.md.
	md, err := os.ReadFile("../docs/powerauth.md")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil)
	checked := 0
	for _, r := range h.srv.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		if strings.HasPrefix(r.Path, "/pa/") || strings.HasPrefix(r.Path, "/api/") {
			if !bytes.Contains(md, []byte(r.Method+" `"+r.Path+"`")) {
				t.Errorf("route %s %s is not in docs/powerauth.md", r.Method, r.Path)
			}
			checked++
		}
	}
	if checked < 11 {
		t.Fatalf("only %d PowerAuth device routes checked", checked)
	}
}
