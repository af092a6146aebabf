package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-sca/signet/gateway"
)

// check sends a forward-auth check request to the gateway.
func (e *env) check(method, path, body string, headers map[string]string) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.gw+path, rd)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

// TestAuthzEnvoyStyle: with original: request (Envoy's ext_authz HTTP service, with_request_body
// and path_prefix), the check carries the original method, path and body: the JSON binding is
// checked, the token consumed only on allow, and allow carries the identity headers.
func TestAuthzEnvoyStyle(t *testing.T) {
	e := newEnv(t, backends[0], func(c *gateway.Config, _ *env) {
		c.Mode, c.Upstream, c.AdminListen = gateway.ModeAuthz, "", "127.0.0.1:0"
		c.Authz = gateway.AuthzConfig{Original: "request", PathPrefix: "/check"}
		c.Routes = append(c.Routes, gateway.Route{Method: "GET", Path: "/{$}", RequireToken: new(bool)})
	})
	op, tok := e.approve("100")
	txn := map[string]string{"Txn-Token": tok, "Content-Type": "application/json"}
	steps := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code                     string
	}{
		{"no token", "POST", "/check/payments", body("100"), nil, 401, "invalid_token"},
		{"no body (with_request_body off)", "POST", "/check/payments", "", txn, 400, "invalid_request"},
		{"amount altered in the body", "POST", "/check/payments", body("100.01"), txn, 403, "binding_mismatch"},
		{"outside the path prefix", "POST", "/payments", body("100"), txn, 404, "not_found"},
		{"prefix without a separator", "POST", "/checkpayments", body("100"), txn, 404, "not_found"},
		{"dot segments", "POST", "/check/x/../payments", body("100"), txn, 400, "invalid_request"},
		{"approved", "POST", "/check/payments", body("100.00"), txn, 200, ""},
		{"same token again", "POST", "/check/payments", body("100.00"), txn, 409, "token_replayed"},
		{"open route", "GET", "/check/payments", "", nil, 200, ""},
		{"unmatched", "GET", "/check/admin", "", nil, 404, "not_found"},
		// Envoy sends path_prefix + the original path: the prefix alone, or with a query, checks the root.
		{"the path prefix alone is the root", "GET", "/check", "", nil, 200, ""},
		{"the path prefix and a query is the root", "GET", "/check?page=2", "", nil, 200, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, m, h := e.check(st.method, st.path, st.body, st.headers)
			if status != st.status {
				t.Fatalf("status %d, want %d: %v", status, st.status, m)
			}
			if st.code != "" {
				var p map[string]any
				if m["code"] != st.code || json.Unmarshal([]byte(h.Get(gateway.HeaderProblem)), &p) != nil || p["code"] != st.code {
					t.Fatalf("refusal %v, %s: %q, want code %s", m, gateway.HeaderProblem, h.Get(gateway.HeaderProblem), st.code)
				}
			}
			if st.name == "approved" && (h.Get("Signet-Operation") != op.ID || h.Get("Signet-Subject") != e.user.ExternalID || h.Get("Idempotency-Key") != op.ID) {
				t.Fatalf("allow without the identity: %v", h)
			}
			if st.name == "open route" && (h.Get("Signet-Operation") != "" || h.Get("Signet-Subject") != "") {
				t.Fatalf("an open route's allow carries an identity: %v", h)
			}
		})
	}
	if e.upstream.Load() != 0 {
		t.Fatal("mode authz forwarded a request")
	}
	if e.gateway.AdminHandler() == nil {
		t.Fatal("mode authz has no admin handler")
	}
	rec := httptest.NewRecorder()
	e.gateway.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`outcome="allowed",route="POST /payments"`, `outcome="allowed",route="GET /payments"`,
		`signet_gateway_requests_total{outcome="allowed",route="GET /{$}"} 2`,
		`outcome="replayed"`, `outcome="binding_mismatch"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, rec.Body.String())
		}
	}
}

// TestAuthzForwardedRefusals: with original: forwarded, a check that does not name exactly one
// original method and URI is the proxy's misconfiguration (500), and what the gateway could not
// strip from the forwarded request is refused before the token is looked at.
func TestAuthzForwardedRefusals(t *testing.T) {
	e := newEnv(t, backends[0], func(c *gateway.Config, _ *env) {
		c.Mode, c.Upstream, c.AdminListen, c.Unmatched = gateway.ModeAuthz, "", "127.0.0.1:0", "allow"
	})
	_, tok := e.approve("7")
	fw := func(extra map[string]string) map[string]string {
		h := map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/payments", "Txn-Token": tok}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	steps := []struct {
		name    string
		headers map[string]string
		status  int
		code    string
	}{
		{"no original URI", map[string]string{"X-Forwarded-Method": "POST", "Txn-Token": tok}, 500, "authz_misconfigured"},
		{"absolute original URI", fw(map[string]string{"X-Forwarded-Uri": "http://evil.example/payments"}), 400, "invalid_request"},
		{"original method not a token", fw(map[string]string{"X-Forwarded-Method": "PO ST"}), 400, "invalid_request"},
		{"doubled slash", fw(map[string]string{"X-Forwarded-Uri": "//payments"}), 400, "invalid_request"},
		{"Signet_Subject from the client", fw(map[string]string{"Signet_Subject": "mallory"}), 400, "invalid_request"},
		// On a route the gateway lets through, so that only the spoofed field can refuse it.
		{"Signet.Subject from the client", fw(map[string]string{"X-Forwarded-Uri": "/elsewhere", "Signet.Subject": "mallory"}), 400, "invalid_request"},
		{"method override", fw(map[string]string{"X-Method-Override": "DELETE"}), 400, "invalid_request"},
		{"unmatched: allow", fw(map[string]string{"X-Forwarded-Uri": "/elsewhere?x=1"}), 200, ""},
		// the refusals above did not burn the token; the body binding without a body fails closed
		{"JSON binding, no body", fw(nil), 400, "invalid_request"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, m, _ := e.check("GET", "/", "", st.headers)
			if status != st.status || (st.code != "" && m["code"] != st.code) {
				t.Fatalf("status %d %v, want %d %s", status, m, st.status, st.code)
			}
		})
	}
	t.Run("the token is still good", func(t *testing.T) {
		status, m, h := e.check("GET", "/", body("7"), fw(nil))
		if status != 200 || h.Get("Signet-Operation") == "" {
			t.Fatalf("status %d %v", status, m)
		}
	})
}
