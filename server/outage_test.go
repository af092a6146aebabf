package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/storetest"
	"github.com/signet-sca/signet/txsign"
)

// lastResponse records the last response a device client received, so that a test sees the status, headers
// and envelope of the call that failed inside a multi-request device action.
type lastResponse struct {
	next http.RoundTripper
	mu   sync.Mutex
	r    response
}

func (l *lastResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	l.mu.Lock()
	l.r = response{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	l.mu.Unlock()
	return resp, nil
}

func (l *lastResponse) last() response {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r
}

// outageEnv is a harness whose services see the database through a storetest.Outage.
type outageEnv struct {
	*harness
	out  *storetest.Outage
	rec  *lastResponse
	app  string
	cfg  padevice.AppConfig
	once sync.Once
}

// paApp creates the PowerAuth application once (healthy store).
func (e *outageEnv) paApp() {
	e.once.Do(func() {
		r := e.do("POST", "/v1/applications", "", map[string]any{"name": "Mobile banking"})
		if r.status != 201 {
			e.t.Fatalf("create application: %d %s", r.status, r.body)
		}
		m := r.json(e.t)
		e.app = m["id"].(string)
		var err error
		if e.cfg, err = padevice.ParseAppConfig(m["mobile_sdk_config"].(string)); err != nil {
			e.t.Fatal(err)
		}
	})
}

// initActivation creates a user and an activation for it; it returns the activation code.
func (e *outageEnv) initActivation() (userID, code, id string) {
	e.paApp()
	userID = e.createUser("outage-" + uuid.NewString())
	r := e.do("POST", "/v1/activations", "", map[string]any{"user_id": userID, "application_id": e.app})
	if r.status != 201 {
		e.t.Fatalf("init activation: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return userID, m["activation_code"].(string), m["id"].(string)
}

// enrollmentSession opens an enrollment session for a new user; it returns its Authorization header.
func (e *outageEnv) enrollmentSession() string {
	e.t.Helper()
	r := e.do("POST", "/v1/users/"+e.createUser(uuid.NewString())+"/enrollments", "", nil)
	if r.status != 201 {
		e.t.Fatalf("enrollment link: %d %s", r.status, r.body)
	}
	_, tok, _ := strings.Cut(r.json(e.t)["url"].(string), "#token=")
	r = e.do("POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok})
	if r.status != 201 {
		e.t.Fatalf("enrollment session: %d %s", r.status, r.body)
	}
	return "Bearer " + r.json(e.t)["session"].(string)
}

func (e *outageEnv) client() *padevice.Client {
	return &padevice.Client{BaseURL: "http://" + e.addr, Version: powerauth.Version33, Platform: "Android",
		DeviceInfo: "Pixel 9", HTTP: &http.Client{Transport: e.rec}}
}

// paDevice is an ACTIVE PowerAuth activation of a new user, with a MAC token.
func (e *outageEnv) paDevice() (*padevice.Client, *padevice.State, string) {
	e.t.Helper()
	userID, code, _ := e.initActivation()
	c := e.client()
	ctx := context.Background()
	st, err := c.Activate(ctx, e.cfg, code, paPIN, padevice.ActivateOptions{Name: "phone"})
	if err != nil {
		e.t.Fatalf("activate: %v", err)
	}
	if r := e.do("POST", "/v1/activations/"+st.ActivationID+"/commit", "", nil); r.status != 200 {
		e.t.Fatalf("commit: %d %s", r.status, r.body)
	}
	if _, err := c.CreateToken(ctx, st, powerauth.SignaturePossession, ""); err != nil {
		e.t.Fatalf("token: %v", err)
	}
	return c, st, userID
}

// device runs a device action and answers the last response it received.
func (e *outageEnv) device(action func(ctx context.Context) error) response {
	_ = action(context.Background())
	return e.rec.last()
}

// outageCase drives one route: run prepares fresh state with the database up, calls strike (the outage
// begins at the armed store call), sends the request and returns its answer.
type outageCase struct {
	name     string
	envelope string // "problem" (RFC 9457) or "powerauth" ({"status":"ERROR","responseObject":{...}})
	run      func(e *outageEnv, strike func()) response
}

func outageCases() []outageCase {
	payment := map[string]any{"type": "payment", "amount": "12.50", "currency": "EUR",
		"payee": map[string]string{"account": "DE89 3704 0044 0532 0130 00", "name": "ACME GmbH"}}
	op := func(e *outageEnv, userID string) string {
		return e.createOp(userID, "12.50", "EUR", nil).ID
	}
	return []outageCase{
		// /v1, private API (problem+json).
		{"POST /v1/users", "problem", func(e *outageEnv, strike func()) response {
			strike()
			return e.do("POST", "/v1/users", "", map[string]any{"external_id": uuid.NewString()})
		}},
		{"POST /v1/operations", "problem", func(e *outageEnv, strike func()) response {
			body := map[string]any{"user_id": e.createUser(uuid.NewString())}
			for k, v := range payment {
				body[k] = v
			}
			strike()
			return e.do("POST", "/v1/operations", "", body)
		}},
		{"GET /v1/operations/:id", "problem", func(e *outageEnv, strike func()) response {
			id := op(e, e.createUser(uuid.NewString()))
			strike()
			return e.do("GET", "/v1/operations/"+id, "", nil)
		}},
		{"POST /v1/operations/:id/cancel", "problem", func(e *outageEnv, strike func()) response {
			id := op(e, e.createUser(uuid.NewString()))
			strike()
			return e.do("POST", "/v1/operations/"+id+"/cancel", "", nil)
		}},
		{"DELETE /v1/credentials/:id", "problem", func(e *outageEnv, strike func()) response {
			d := e.newDevice(e.createUser(uuid.NewString()))
			strike()
			return e.do("DELETE", "/v1/credentials/"+d.credID, "", nil)
		}},
		{"GET /v1/users", "problem", func(e *outageEnv, strike func()) response {
			ext := uuid.NewString()
			e.createUser(ext)
			strike()
			return e.do("GET", "/v1/users?external_id="+ext, "", nil)
		}},
		{"GET /v1/users/:id", "problem", func(e *outageEnv, strike func()) response {
			id := e.createUser(uuid.NewString())
			strike()
			return e.do("GET", "/v1/users/"+id, "", nil)
		}},
		{"GET /v1/users/:id/credentials", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			e.newDevice(userID)
			strike()
			return e.do("GET", "/v1/users/"+userID+"/credentials", "", nil)
		}},
		{"POST /v1/credentials/:id/block", "problem", func(e *outageEnv, strike func()) response {
			d := e.newDevice(e.createUser(uuid.NewString()))
			strike()
			return e.do("POST", "/v1/credentials/"+d.credID+"/block", "", map[string]any{"reason": "ISSUER"})
		}},
		{"POST /v1/credentials/:id/unblock", "problem", func(e *outageEnv, strike func()) response {
			d := e.newDevice(e.createUser(uuid.NewString()))
			if r := e.do("POST", "/v1/credentials/"+d.credID+"/block", "", map[string]any{"reason": "ISSUER"}); r.status != 200 {
				e.t.Fatalf("block: %d %s", r.status, r.body)
			}
			strike()
			return e.do("POST", "/v1/credentials/"+d.credID+"/unblock", "", nil)
		}},
		{"GET /v1/audit", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			strike()
			return e.do("GET", "/v1/audit?user_id="+userID, "", nil)
		}},
		{"GET /v1/operations", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			op(e, userID)
			strike()
			return e.do("GET", "/v1/operations?user_id="+userID, "", nil)
		}},
		{"POST /v1/users/:id/registration-codes", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			strike()
			return e.do("POST", "/v1/users/"+userID+"/registration-codes", "", nil)
		}},
		{"POST /v1/users/:id/enrollments", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			strike()
			return e.do("POST", "/v1/users/"+userID+"/enrollments", "", nil)
		}},
		{"GET /v1/operations/:id/evidence", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			d := e.newDevice(userID)
			id := op(e, userID)
			dl := e.signingData(id, d)
			if r := e.approve(id, d, sign(d.key, dl[:])); r.status != 200 {
				e.t.Fatalf("approve: %d %s", r.status, r.body)
			}
			strike()
			return e.do("GET", "/v1/operations/"+id+"/evidence", "", nil)
		}},
		{"POST /v1/applications", "problem", func(e *outageEnv, strike func()) response {
			strike()
			return e.do("POST", "/v1/applications", "", map[string]any{"name": "Mobile banking " + uuid.NewString()})
		}},
		{"GET /v1/applications/:id", "problem", func(e *outageEnv, strike func()) response {
			e.paApp()
			strike()
			return e.do("GET", "/v1/applications/"+e.app, "", nil)
		}},
		{"GET /v1/activations/:id", "problem", func(e *outageEnv, strike func()) response {
			_, _, id := e.initActivation()
			strike()
			return e.do("GET", "/v1/activations/"+id, "", nil)
		}},
		{"GET /v1/operations/:id/offline", "problem", func(e *outageEnv, strike func()) response {
			_, st, userID := e.paDevice()
			id := op(e, userID)
			strike()
			return e.do("GET", "/v1/operations/"+id+"/offline?credential_id="+st.ActivationID, "", nil)
		}},
		{"POST /v1/operations/:id/offline-verify", "problem", func(e *outageEnv, strike func()) response {
			_, st, userID := e.paDevice()
			id := op(e, userID)
			r := e.do("GET", "/v1/operations/"+id+"/offline?credential_id="+st.ActivationID, "", nil)
			if r.status != 200 {
				e.t.Fatalf("offline payload: %d %s", r.status, r.body)
			}
			_, code, err := padevice.OfflineCode(st, r.json(e.t)["qr_payload"].(string), paPIN)
			if err != nil {
				e.t.Fatal(err)
			}
			strike()
			return e.do("POST", "/v1/operations/"+id+"/offline-verify", "", map[string]any{"credential_id": st.ActivationID, "code": code})
		}},
		{"POST /v1/activations", "problem", func(e *outageEnv, strike func()) response {
			e.paApp()
			userID := e.createUser(uuid.NewString())
			strike()
			return e.do("POST", "/v1/activations", "", map[string]any{"user_id": userID, "application_id": e.app})
		}},
		{"POST /v1/activations/:id/commit", "problem", func(e *outageEnv, strike func()) response {
			_, code, _ := e.initActivation()
			st, err := e.client().Activate(context.Background(), e.cfg, code, paPIN, padevice.ActivateOptions{Name: "phone"})
			if err != nil {
				e.t.Fatal(err)
			}
			strike()
			return e.do("POST", "/v1/activations/"+st.ActivationID+"/commit", "", nil)
		}},
		// /v1, device-key API (problem+json).
		{"POST /v1/devices", "problem", func(e *outageEnv, strike func()) response {
			code := e.registrationCode(e.createUser(uuid.NewString()))
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			strike()
			return e.do("POST", "/v1/devices", "-", map[string]any{"registration_code": code, "public_key": jwkOf(&key.PublicKey)})
		}},
		{"GET /v1/operations/:id/signing-data", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			d := e.newDevice(userID)
			id := op(e, userID)
			strike()
			return e.do("GET", "/v1/operations/"+id+"/signing-data?credential_id="+d.credID, e.capAuth(id), nil)
		}},
		{"POST /v1/operations/:id/approve", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			d := e.newDevice(userID)
			id := op(e, userID)
			dl := e.signingData(id, d)
			strike()
			return e.approve(id, d, sign(d.key, dl[:]))
		}},
		{"POST /v1/operations/:id/reject", "problem", func(e *outageEnv, strike func()) response {
			userID := e.createUser(uuid.NewString())
			d := e.newDevice(userID)
			id := op(e, userID)
			rd := txsign.RejectDigest(e.signingData(id, d))
			strike()
			return e.do("POST", "/v1/operations/"+id+"/reject", e.capAuth(id), map[string]any{"credential_id": d.credID, "signature": sign(d.key, rd[:])})
		}},
		// /v1/web, the hosted pages' API (problem+json).
		{"GET /v1/web/operations/:id", "problem", func(e *outageEnv, strike func()) response {
			id := op(e, e.createUser(uuid.NewString()))
			strike()
			return e.do("GET", "/v1/web/operations/"+id, e.capAuth(id), nil)
		}},
		{"POST /v1/web/enrollment/session", "problem", func(e *outageEnv, strike func()) response {
			r := e.do("POST", "/v1/users/"+e.createUser(uuid.NewString())+"/enrollments", "", nil)
			_, tok, ok := strings.Cut(r.json(e.t)["url"].(string), "#token=")
			if r.status != 201 || !ok {
				e.t.Fatalf("enrollment link: %d %s", r.status, r.body)
			}
			strike()
			return e.do("POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok})
		}},
		{"GET /v1/web/enrollment/session", "problem", func(e *outageEnv, strike func()) response {
			bearer := e.enrollmentSession()
			strike()
			return e.do("GET", "/v1/web/enrollment/session", bearer, nil)
		}},
		{"DELETE /v1/web/enrollment/session", "problem", func(e *outageEnv, strike func()) response {
			bearer := e.enrollmentSession()
			strike()
			return e.do("DELETE", "/v1/web/enrollment/session", bearer, nil)
		}},
		{"POST /v1/web/enrollment/passkeys/begin", "problem", func(e *outageEnv, strike func()) response {
			bearer := e.enrollmentSession()
			strike()
			return e.do("POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
		}},
		// /pa/v3, PowerAuth device API (PowerAuth envelope).
		{"POST /pa/v3/activation/create", "powerauth", func(e *outageEnv, strike func()) response {
			_, code, _ := e.initActivation()
			c := e.client()
			strike()
			return e.device(func(ctx context.Context) error {
				_, err := c.Activate(ctx, e.cfg, code, paPIN, padevice.ActivateOptions{Name: "phone"})
				return err
			})
		}},
		{"POST /pa/v3/activation/status", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error { _, err := c.Status(ctx, st); return err })
		}},
		{"POST /pa/v3/activation/remove", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error { return c.Remove(ctx, st, paPIN) })
		}},
		{"POST /pa/v3/token/create", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error {
				_, err := c.CreateToken(ctx, st, powerauth.SignaturePossessionKnowledge, paPIN)
				return err
			})
		}},
		{"POST /pa/v3/token/remove", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error { return c.RemoveToken(ctx, st) })
		}},
		{"POST /pa/v3/signature/validate", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error {
				return c.ValidateSignature(ctx, st, powerauth.SignaturePossessionKnowledge, paPIN, []byte(`{"hello":"world"}`))
			})
		}},
		{"POST /pa/v3/vault/unlock", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, _ := e.paDevice()
			strike()
			return e.device(func(ctx context.Context) error { _, err := c.UnlockVault(ctx, st, paPIN); return err })
		}},
		// /api/auth/token/app, mobile-token operations (PowerAuth envelope).
		{"POST /api/auth/token/app/operation/list", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, userID := e.paDevice()
			op(e, userID)
			strike()
			return e.device(func(ctx context.Context) error { _, err := c.ListOperations(ctx, st); return err })
		}},
		{"POST /api/auth/token/app/operation/detail", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, userID := e.paDevice()
			id := op(e, userID)
			strike()
			return e.device(func(ctx context.Context) error { _, err := c.OperationDetail(ctx, st, id); return err })
		}},
		{"POST /api/auth/token/app/operation/authorize", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, userID := e.paDevice()
			id := op(e, userID)
			o, err := c.OperationDetail(context.Background(), st, id)
			if err != nil {
				e.t.Fatal(err)
			}
			strike()
			return e.device(func(ctx context.Context) error { return c.Approve(ctx, st, o, paPIN) })
		}},
		{"POST /api/auth/token/app/operation/cancel", "powerauth", func(e *outageEnv, strike func()) response {
			c, st, userID := e.paDevice()
			id := op(e, userID)
			strike()
			return e.device(func(ctx context.Context) error { return c.Reject(ctx, st, id, "") })
		}},
	}
}

// TestOutageAnswers503 proves that a database outage anywhere below a handler answers 503 in the route
// family's own envelope, with Retry-After and without internals, never a refusal (401, 400 ERR_ACTIVATION,
// 409...) that would tell the client its request was judged. For each route the outage begins at the
// route's first store call, then its second, and so on until the request no longer reaches the armed call
// and succeeds; each attempt starts from fresh state.
func TestOutageAnswers503(t *testing.T) {
	out := new(storetest.Outage)
	h := newHarnessWith(t, harnessOpts{wrap: func(s store.Store) store.Store { out.Store = s; return out }})
	for _, mode := range []struct {
		name string
		arm  func(n int64)
	}{
		{"down", out.FailFrom}, // the database goes down at the nth call and stays down
		{"blip", out.FailOnly}, // only the nth call fails: a refusal must not hide it by auditing it
	} {
		for _, tc := range outageCases() {
			t.Run(mode.name+" "+tc.name, func(t *testing.T) {
				hh := *h
				hh.t = t
				e := &outageEnv{harness: &hh, out: out, rec: &lastResponse{next: testClient.Transport}}
				const most = 60
				for n := int64(1); ; n++ {
					if n > most {
						t.Fatalf("still failing with the outage at store call %d", n)
					}
					out.Heal()
					r := tc.run(e, func() { mode.arm(n) })
					calls, struck := out.Calls(), out.Struck()
					out.Heal()
					if calls < n { // the request ended before the armed call: the outage never struck
						if r.status/100 != 2 {
							t.Fatalf("healthy store: %d %s", r.status, r.body)
						}
						if n == 1 {
							t.Fatalf("the route made no store call")
						}
						t.Logf("503 with the outage at each of its %d store calls", n-1)
						break
					}
					checkUnavailable(t, fmt.Sprintf("outage at store call %d (%s)", n, struck), tc.envelope, r)
				}
			})
		}
	}
}

func checkUnavailable(t *testing.T, at, envelope string, r response) {
	t.Helper()
	if r.status != 503 {
		t.Fatalf("%s: %d %s, want 503", at, r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("%s: Retry-After %q", at, got)
	}
	for _, internal := range []string{"store", "database", "sql", "unavailable:"} {
		if strings.Contains(strings.ToLower(string(r.body)), internal) {
			t.Errorf("%s: body shows %q: %s", at, internal, r.body)
		}
	}
	var body struct {
		Status         any    `json:"status"`
		Code           string `json:"code"`
		ResponseObject struct {
			Code string `json:"code"`
		} `json:"responseObject"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%s: body %q: %v", at, r.body, err)
	}
	switch envelope {
	case "problem":
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || body.Code != "unavailable" || body.Status != 503.0 {
			t.Fatalf("%s: %s %s, want a problem unavailable", at, ct, r.body)
		}
	case "powerauth":
		if body.Status != "ERROR" || body.ResponseObject.Code != "ERR_UNAVAILABLE" {
			t.Fatalf("%s: %s, want the PowerAuth envelope ERR_UNAVAILABLE", at, r.body)
		}
	}
}
