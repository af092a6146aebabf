package web

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPayeeAccountDisplay(t *testing.T) {
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
			if got := (Approval{PayeeAccount: tt.in}).PayeeAccountDisplay(); got != tt.want {
				t.Fatalf("PayeeAccountDisplay(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestApprovalPageIsolatesPayee renders the page: the name and the account sit in their own
// <bdi>, the account drawn left to right, the IBAN grouped, and nothing else changed.
func TestApprovalPageIsolatesPayee(t *testing.T) {
	render := func(a Approval) string {
		t.Helper()
		var b bytes.Buffer
		if err := RenderApproval(&b, a); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	base := Approval{OperationID: "op1", Status: "PENDING", Type: "payment", Amount: "1250.00", Currency: "CZK",
		ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

	a := base
	a.PayeeName, a.PayeeAccount = "שלום כהן", "CZ6508000000192000145399"
	page := render(a)
	for _, want := range []string{
		`<dd id="payee-name"><bdi class="payee-name">שלום כהן</bdi></dd>`,
		`<dd id="payee-account" class="mono"><bdi class="payee-account" dir="ltr">CZ65 0800 0000 1920 0014 5399</bdi></dd>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "CZ6508000000192000145399") {
		t.Error("page shows the IBAN ungrouped")
	}

	a = base
	a.PayeeName, a.PayeeAccount = `<b>ACME</b> & Co`, "0001-123-4567890"
	page = render(a)
	for _, want := range []string{
		`<bdi class="payee-name">&lt;b&gt;ACME&lt;/b&gt; &amp; Co</bdi>`,
		`<bdi class="payee-account" dir="ltr">0001-123-4567890</bdi>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	css, _, _ := Asset("static/app.css")
	for _, want := range []string{"bdi.payee-name { unicode-bidi: isolate; }", "bdi.payee-account { direction: ltr; unicode-bidi: isolate-override; }"} {
		if !bytes.Contains(css, []byte(want)) {
			t.Errorf("app.css lacks %s", want)
		}
	}
}
