package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/store"
)

// wrapsTo60s is 60 + 2^55: times 10^9 (time.Second) it overflows int64 to exactly 60 s, so a
// conversion before the range check would accept it as a one-minute expiry.
const wrapsTo60s = "36028797018964028"

// TestIntegerDurationsRefuseOutOfRange sends every integer duration a client controls with
// values that are huge, overflowing, negative, zero or not integers: each is refused with 400
// naming the field, none is defaulted or wrapped, nothing is created. The last row of each
// table must pass.
func TestIntegerDurationsRefuseOutOfRange(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	uid := h.createUser("cust-durations")
	app := h.do("POST", "/v1/applications", "", map[string]any{"name": "Mobile"})
	if app.status != 201 {
		t.Fatalf("application: %d %s", app.status, app.body)
	}
	appID := app.json(t)["id"].(string)
	bodies := map[string]func(v string) string{
		"POST /v1/operations": func(v string) string {
			return fmt.Sprintf(`{"user_id":%q,"type":"payment","payee":{"account":"DE89370400440532013000","name":"ACME"},"amount":"1","currency":"EUR","expires_in":%s}`, uid, v)
		},
		"POST /v1/activations": func(v string) string {
			return fmt.Sprintf(`{"user_id":%q,"application_id":%q,"expires_in":%s}`, uid, appID, v)
		},
	}
	refused := []struct{ name, value string }{
		{"overflow wrapping to 60s", wrapsTo60s},
		{"negative overflow", "-" + wrapsTo60s},
		{"max int64", "9223372036854775807"},
		{"beyond int64", "1e30"},
		{"huge exponent", "100000000000000000000000000"},
		{"negative", "-60"},
		{"zero", "0"},
		{"fraction", "60.5"},
		{"string", `"60"`},
		{"null-like string", `"null"`},
		{"boolean", "true"},
	}
	for route, body := range bodies {
		for _, tc := range refused {
			t.Run(route+"/"+tc.name, func(t *testing.T) {
				method, path := route[:4], route[5:]
				r := h.do(method, path, "", body(tc.value))
				if r.status != 400 {
					t.Fatalf("%s: %d %s", tc.value, r.status, r.body)
				}
				p := r.json(t)
				errs, _ := p["errors"].([]any)
				if p["code"] != "invalid_request" || len(errs) != 1 || errs[0].(map[string]any)["field"] != "expires_in" {
					t.Fatalf("problem does not name expires_in: %s", r.body)
				}
			})
		}
	}
	ops, _ := h.store.ListOperations(ctx, store.OperationFilter{UserID: uid})
	if len(ops) != 0 {
		t.Fatalf("refused requests created %d operations", len(ops))
	}
	t.Run("in range passes", func(t *testing.T) {
		for route, body := range bodies {
			if r := h.do(route[:4], route[5:], "", body("60")); r.status != 201 {
				t.Fatalf("%s expires_in 60: %d %s", route, r.status, r.body)
			}
		}
	})

	t.Run("long-poll wait", func(t *testing.T) {
		op := h.createOp(uid, "2", "EUR", nil)
		// Huge positive waits are shortened to 60 s (documented); TestParseWait covers them.
		for _, v := range []string{"-36028797018963908", "-" + wrapsTo60s, "-1", "0", "1.5", "99999999999999999999"} {
			r := h.do("GET", "/v1/operations/"+op.ID+"?wait="+v, "", nil)
			errs, _ := r.json(t)["errors"].([]any)
			if r.status != 400 || len(errs) != 1 || errs[0].(map[string]any)["field"] != "wait" {
				t.Errorf("wait=%s: %d %s", v, r.status, r.body)
			}
		}
		// Must pass: an op that is not PENDING answers at once whatever the wait.
		if _, err := h.ops.Cancel(ctx, "bank", op.ID); err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", "/v1/operations/"+op.ID+"?wait=3600", "", nil); r.status != 200 {
			t.Errorf("wait=3600 (shortened to 60s): %d %s", r.status, r.body)
		}
	})
}
