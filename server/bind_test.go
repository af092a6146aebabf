package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// TestOneStrictJSONReading: issue 13 §8. Every JSON body, of the private API, the browser
// ceremonies and the PowerAuth device API, is read once and strictly: a key given twice under
// encoding/json's folding or invalid UTF-8 is a 400 naming the field, and changes nothing.
func TestOneStrictJSONReading(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-strict")
	op := func(extra string) string {
		return `{"user_id":"` + uid + `","type":"payment","payee":{"account":"DE89370400440532013000","name":"ACME"},` +
			`"amount":"1.00","currency":"EUR","factors":["device_key"]` + extra + `}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		field  string // the field the problem names
		reason string // in its reason
	}{
		{"amount given twice in another case", op(`,"Amount":"1000.00"`), 400, "Amount", "appears more than once"},
		{"factors given twice with a long s", op(`,"factorſ":["passkey"]`), 400, "factorſ", "appears more than once"},
		{"user id given twice, camel case", op(`,"userId":"` + uid + `"`), 400, "userId", "appears more than once"},
		{"payee account given twice, nested", strings.Replace(op(""), `"name":"ACME"`, `"name":"ACME","ACCOUNT":"GB82WEST12345698765432"`, 1),
			400, "ACCOUNT", "appears more than once"},
		{"invalid UTF-8 in the payee name", strings.Replace(op(""), "ACME", "AC\xffME", 1), 400, "", "invalid UTF-8"},
		{"unpaired surrogate in the payee name", strings.Replace(op(""), "ACME", `AC\udc00ME`, 1), 400, "name", "surrogate"},
		{"ok: a payment", op(""), 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/operations", "", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status != 400 {
				return
			}
			var p struct {
				Code   string `json:"code"`
				Errors []struct{ Field, Reason string }
			}
			if err := json.Unmarshal(r.body, &p); err != nil || p.Code != "invalid_request" || len(p.Errors) != 1 {
				t.Fatalf("problem %s", r.body)
			}
			if p.Errors[0].Field != tt.field || !strings.Contains(p.Errors[0].Reason, tt.reason) {
				t.Fatalf("field %q reason %q, want %q and %q", p.Errors[0].Field, p.Errors[0].Reason, tt.field, tt.reason)
			}
		})
	}
	ops, err := h.store.ListOperations(context.Background(), store.OperationFilter{UserID: uid, Limit: 100})
	if err != nil || len(ops) != 1 || ops[0].Amount != "1.00" {
		t.Fatalf("operations %+v %v: only the valid request may create one", ops, err)
	}
}

func TestCeremonyBodiesStrict(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-strict")
	d := newWebDevice(e.origin)
	_ = e.enrollOverHTTP(t, uid, d, "482916")
	opID := e.payment(uid, "Alza.cz a.s.", "5.00")["id"].(string)
	base := "/v1/web/operations/" + opID + "/approval/"
	tests := []struct {
		name, path, body string
		status           int
		reason           string
	}{
		{"decision given twice", "begin", `{"decision":"reject","Decision":"approve"}`, 400, "appears more than once"},
		// go-webauthn parses the credential itself; the whole body is checked first.
		{"credential member given twice", "finish", `{"ceremony_id":"x","credential":{"id":"AA","ID":"BB","type":"public-key"}}`, 400, "appears more than once"},
		{"credential with invalid UTF-8", "finish", "{\"ceremony_id\":\"x\",\"credential\":{\"id\":\"A\xc3\"}}", 400, "invalid UTF-8"},
		{"ok: begin", "begin", `{"decision":"approve"}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", base+tt.path, e.capAuth(opID), tt.body)
			if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.reason)) {
				t.Fatalf("status %d, want %d with %q: %s", r.status, tt.status, tt.reason, r.body)
			}
		})
	}
}

func TestPowerAuthBodiesStrict(t *testing.T) {
	e := newPAEnv(t, sqltest.OpenSQLite(t))
	tests := []struct {
		name, body string
		dup        bool // the refusal must name the duplicate
	}{
		{"activation id given twice", `{"requestObject":{"activationId":"a","ActivationId":"b","challenge":"x"}}`, true},
		{"request object given twice, escaped", `{"requestObject":{"activationId":"a"},"requestObjec\u0074":{}}`, true},
		{"ok: no duplicate reaches the activation service", `{"requestObject":{"activationId":"a","challenge":"x"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(e.url+"/pa/v3/activation/status", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !bytes.Contains(raw, []byte(`"status":"ERROR"`)) {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
			if got := bytes.Contains(raw, []byte("appears more than once")); got != tt.dup {
				t.Fatalf("refusal names a duplicate: %v, want %v: %s", got, tt.dup, raw)
			}
		})
	}
}
