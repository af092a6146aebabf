package server_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/config"
)

const (
	consumeSecret = "consume-secret-0123456789"
	bankSecret    = "bank-secret-0123456789"
)

type securityReq []map[string][]string

// declaredScopes reads docs/openapi.yaml: for every /v1 path and method, the API-key scope its
// security requirement names ("" for a public operation).
func declaredScopes(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Security securityReq                                           `yaml:"security"`
		Paths    map[string]map[string]struct{ Security *securityReq } `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	scopeOf := func(req securityReq) string {
		for _, alt := range req {
			if scopes, ok := alt["bearer"]; ok {
				if len(scopes) != 1 {
					t.Fatalf("a bearer requirement must name exactly one scope, got %v", scopes)
				}
				return scopes[0]
			}
		}
		return ""
	}
	out := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			req := doc.Security
			if op.Security != nil {
				req = *op.Security
			}
			out[strings.ToUpper(method)+" "+path] = scopeOf(req)
		}
	}
	return out
}

// TestEveryPrivateRouteDeclaresItsScope walks every registered route. Each /v1 route's scope
// comes from docs/openapi.yaml (where a private route without a scope fails the test); a private
// route must refuse a request without a key (401), refuse a key below its scope with 403
// insufficient_scope naming the scope it needs (RFC 6750 §3.1), and admit a key at its scope. A
// route documented public must answer the same with and without an admin key, so a route that
// checks an API key without being documented private fails too. A consume-only key is refused
// everywhere but POST /v1/tokens/consume.
func TestEveryPrivateRouteDeclaresItsScope(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{apiKeys: []config.APIKey{
		{Name: "gw", Secret: consumeSecret, Scope: config.ScopeConsume},
		{Name: "core", Secret: bankSecret}, // no scope: bank
		{Name: "ops", Secret: testSecret, Scope: config.ScopeAdmin},
	}})
	declared := declaredScopes(t)
	keys := map[string]string{"consume": consumeSecret, "bank": bankSecret, "admin": testSecret}
	rank := map[string]int{"consume": 1, "bank": 2, "admin": 3}
	send := func(method, path, auth string) response {
		t.Helper()
		return h.do(method, path, auth, "{}")
	}
	refusedScope := func(r response) string {
		if r.status != 403 || !strings.Contains(string(r.body), `"code":"insufficient_scope"`) {
			return ""
		}
		wa := r.header.Get("WWW-Authenticate")
		_, scope, _ := strings.Cut(wa, `error="insufficient_scope", scope="`)
		return strings.TrimSuffix(scope, `"`)
	}
	private, consumeAdmitted := 0, 0
	for _, rt := range h.srv.App().GetRoutes(true) {
		if rt.Method == "HEAD" || rt.Method == "USE" || rt.Method == "CONNECT" || rt.Method == "TRACE" {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":id", uuid.NewString())
		path = strings.ReplaceAll(path, ":file", "x.js")
		name := rt.Method + " " + rt.Path
		need, documented := declared[rt.Method+" "+openAPIPath(rt.Path)]
		if strings.HasPrefix(rt.Path, "/v1/") && !documented {
			t.Errorf("%s: not in docs/openapi.yaml", name)
			continue
		}
		if need == "" { // public
			anon, withKey := send(rt.Method, path, "-"), send(rt.Method, path, "Bearer "+testSecret)
			if anon.status != withKey.status {
				t.Errorf("%s is documented public but answers %d without a key and %d with an admin key: declare its scope",
					name, anon.status, withKey.status)
			}
			if s := refusedScope(send(rt.Method, path, "Bearer "+consumeSecret)); s != "" {
				t.Errorf("%s is documented public but refused a consume key for scope %s", name, s)
			}
			continue
		}
		private++
		if _, ok := rank[need]; !ok {
			t.Errorf("%s: unknown scope %q in docs/openapi.yaml", name, need)
			continue
		}
		if r := send(rt.Method, path, "-"); r.status != 401 {
			t.Errorf("%s without a key: %d %s", name, r.status, r.body)
		}
		for _, have := range []string{"consume", "bank", "admin"} {
			auth := "Bearer " + keys[have]
			if have == "bank" { // and Basic, with the key's name
				auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("core:"+bankSecret))
			}
			r := send(rt.Method, path, auth)
			got := refusedScope(r)
			switch {
			case rank[have] < rank[need] && got != need:
				t.Errorf("%s (scope %s) with a %s key: %d %q %s; want 403 insufficient_scope, scope=%q",
					name, need, have, r.status, r.header.Get("WWW-Authenticate"), r.body, need)
			case rank[have] >= rank[need] && (r.status == 401 || r.status == 403):
				t.Errorf("%s (scope %s) refused a %s key: %d %s", name, need, have, r.status, r.body)
			case have == "consume" && rank[have] >= rank[need]:
				consumeAdmitted++
			}
		}
	}
	if private < 26 { // every private route registered today
		t.Fatalf("only %d private routes checked", private)
	}
	if consumeAdmitted != 1 {
		t.Fatalf("a consume key was admitted by %d routes; want exactly one (POST /v1/tokens/consume)", consumeAdmitted)
	}
}

// TestConsumeKeyConsumesAToken: the route a consume key exists for works end to end with it,
// and the refusals elsewhere do not leak into it.
func TestConsumeKeyConsumesAToken(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{apiKeys: []config.APIKey{
		{Name: "gw", Secret: consumeSecret, Scope: config.ScopeConsume},
		{Name: "ops", Secret: testSecret, Scope: config.ScopeAdmin},
	}})
	uid := h.createUser("cust-consume-key")
	d := h.newDevice(uid)
	op := h.createOp(uid, "10", "EUR", nil)
	dl := h.signingData(op.ID, d)
	a := h.approve(op.ID, d, sign(d.key, dl[:]))
	if a.status != 200 {
		t.Fatalf("approve: %d %s", a.status, a.body)
	}
	token := a.json(t)["token"].(string)
	if r := h.do("POST", "/v1/operations", "Bearer "+consumeSecret, map[string]any{"user_id": uid}); r.status != 403 {
		t.Fatalf("consume key created an operation: %d %s", r.status, r.body)
	}
	r := h.do("POST", "/v1/tokens/consume", "Bearer "+consumeSecret, map[string]any{"token": token})
	if r.status != 200 {
		t.Fatalf("consume with a consume key: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/tokens/consume", "Bearer "+consumeSecret, map[string]any{"token": token}); r.status != 409 {
		t.Fatalf("second consume: %d %s", r.status, r.body)
	}
}

// TestConsumeRequiresTheAuthenticationClassAsked: a device-key approval (amr hwk: one factor) is refused 403
// insufficient_authentication when the caller asks for SCA, and its token is not consumed by that refusal; the
// same token then consumes once when one factor is enough. A bad class name is a 400.
func TestConsumeRequiresTheAuthenticationClassAsked(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-consume-acr")
	d := h.newDevice(uid)
	op := h.createOp(uid, "10", "EUR", nil)
	dl := h.signingData(op.ID, d)
	a := h.approve(op.ID, d, sign(d.key, dl[:]))
	if a.status != 200 {
		t.Fatalf("approve: %d %s", a.status, a.body)
	}
	token := a.json(t)["token"].(string)
	for _, tc := range []struct {
		acr    string
		status int
		code   string
	}{
		{"level-9", 400, "invalid_request"},
		{"sca", 403, "insufficient_authentication"},
		{"urn:signet:acr:sca", 403, "insufficient_authentication"},
		{"1fa", 200, ""}, // positive control: the refusals above did not spend it
		{"1fa", 409, "conflict"},
	} {
		r := h.do("POST", "/v1/tokens/consume", "", map[string]any{"token": token, "require_acr": tc.acr})
		if r.status != tc.status || (tc.code != "" && r.json(t)["code"] != tc.code) {
			t.Fatalf("require_acr %q: %d %s, want %d %s", tc.acr, r.status, r.body, tc.status, tc.code)
		}
	}
}
