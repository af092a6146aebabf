package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWebPagePayeeShownAsStored: a payee that could look like another is refused at creation
// with the rule and the character in the problem details, and a legitimate right-to-left
// name reaches the page as stored, the IBAN grouped in fours for display (issue 13 item 6; the
// browser test checks the isolation as rendered).
func TestWebPagePayeeShownAsStored(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-payee")
	create := func(account, name string) webResponse {
		return e.do("POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "payment",
			"payee": map[string]any{"account": account, "name": name}, "amount": "10", "currency": "EUR"})
	}

	refused := []struct{ name, account, payee, field, reason string }{
		{"RTL letters in the account", "123א456ב789", "ACME", "payee.account", "U+05D0 HEBREW LETTER ALEF"},
		{"IBAN with a zero-width space", "DE89370400440532013000\u200B", "ACME", "payee.account", "U+200B ZERO WIDTH SPACE"},
		{"IBAN with a Cyrillic letter", "DЕ89370400440532013000", "ACME", "payee.account", "U+0415 CYRILLIC CAPITAL LETTER IE"},
		{"IBAN with dashes as other", "DE89-3704-0044-0532-0130-00", "ACME", "payee.account", "is not an IBAN"},
		{"invisible name", "DE89370400440532013000", "\u3164", "payee.name", "invisible character U+3164 HANGUL FILLER"},
		{"braille blank name", "DE89370400440532013000", "\u2800", "payee.name", "U+2800 BRAILLE PATTERN BLANK"},
		{"mixed-script name", "DE89370400440532013000", "Pаypal", "payee.name", "mixes the Latin and Cyrillic scripts"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := create(tc.account, tc.payee)
			if r.status != 400 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var p struct {
				Errors []struct{ Field, Reason string } `json:"errors"`
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, fp := range p.Errors {
				found = found || (fp.Field == tc.field && strings.Contains(fp.Reason, tc.reason))
			}
			if !found {
				t.Fatalf("want %s: ...%s... in %s", tc.field, tc.reason, r.body)
			}
		})
	}

	t.Run("the page data carries the name as stored and the IBAN grouped for display", func(t *testing.T) {
		r := create("de89 3704 0044 0532 0130 00", "שלום כהן")
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		op := r.json(t)
		if got := op["payee"].(map[string]any)["account"]; got != "DE89370400440532013000" {
			t.Fatalf("stored account %v; want the electronic format", got)
		}
		id := op["id"].(string)
		data := e.mustDo(200, "GET", "/v1/web/operations/"+id, e.capAuth(id), nil)
		p := data["payee"].(map[string]any)
		if p["name"] != "שלום כהן" || p["account"] != "DE89370400440532013000" || p["account_display"] != "DE89 3704 0044 0532 0130 00" {
			t.Fatalf("page data payee %v", p)
		}
	})
}
