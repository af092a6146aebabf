package web

import (
	"bytes"
	"strings"
	"testing"
)

func TestAccountDisplay(t *testing.T) {
	tests := []struct{ name, in, want string }{
		// Not an IBAN in electronic format: shown exactly as stored.
		{name: "other identifier", in: "0001-123-4567890", want: "0001-123-4567890"},
		{name: "other with a space", in: "20-00-00 12345678", want: "20-00-00 12345678"},
		{name: "digits only", in: "123456789012345678", want: "123456789012345678"},
		{name: "lower case", in: "cz6508000000192000145399", want: "cz6508000000192000145399"},
		{name: "too short", in: "DE8937040044", want: "DE8937040044"},
		{name: "too long", in: "MT84MALT011000012345MTLCAST001S0000", want: "MT84MALT011000012345MTLCAST001S0000"},
		{name: "letters for check digits", in: "DEAB370400440532013000", want: "DEAB370400440532013000"},
		{name: "empty", in: "", want: ""},

		// IBANs in groups of four (ISO 13616-1 paper format).
		{name: "CZ 24", in: "CZ6508000000192000145399", want: "CZ65 0800 0000 1920 0014 5399"},
		{name: "DE 22", in: "DE89370400440532013000", want: "DE89 3704 0044 0532 0130 00"},
		{name: "NO 15", in: "NO9386011117947", want: "NO93 8601 1117 947"},
		{name: "MT with letters", in: "MT84MALT011000012345MTLCAST001S", want: "MT84 MALT 0110 0001 2345 MTLC AST0 01S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AccountDisplay(tt.in); got != tt.want {
				t.Fatalf("AccountDisplay(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestApprovalPageIsolatesPayee: the page shell holds the name and the account each in its own <bdi>,
// the account drawn left to right, for approve.js to fill with textContent (the page data carries the
// grouped IBAN as account_display; the browser test checks what is shown).
func TestApprovalPageIsolatesPayee(t *testing.T) {
	var b bytes.Buffer
	if err := RenderApproval(&b, Approval{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<dd id="payee-name"><bdi class="payee-name"></bdi></dd>`,
		`<dd id="payee-account" class="mono"><bdi class="payee-account" dir="ltr"></bdi></dd>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	js, _, _ := Asset("static/approve.js")
	for _, want := range []string{`(el.querySelector("bdi") || el).textContent = value`, "op.payee.account_display"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("approve.js lacks %s", want)
		}
	}

	css, _, _ := Asset("static/app.css")
	for _, want := range []string{"bdi.payee-name { unicode-bidi: isolate; }", "bdi.payee-account { direction: ltr; unicode-bidi: isolate-override; }"} {
		if !bytes.Contains(css, []byte(want)) {
			t.Errorf("app.css lacks %s", want)
		}
	}
}
