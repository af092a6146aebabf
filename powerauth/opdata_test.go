package powerauth

import (
	"errors"
	"testing"
	"time"
)

func TestParseOperationData(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		ok     bool
		fields int
	}{
		{"empty", "", false, 0},
		{"no template", "A", false, 0},
		{"lower-case version", "a1", false, 0},
		{"template 100", "A100", false, 0},
		{"template leading zero", "A01", false, 0},
		{"raw newline", "A0*Tline\nbreak", false, 0},
		{"tab", "A0*T\t", false, 0},
		{"unknown escape", `A0*T\t`, false, 0},
		{"trailing backslash", `A0*T\`, false, 0},
		{"amount without currency", "A1*A100", false, 0},
		{"amount not decimal", "A1*A1,00EUR", false, 0},
		{"amount lower-case currency", "A1*A100eur", false, 0},
		{"bad iban", "A1*A100CZK*Icz27", false, 0},
		{"bad bic", "A1*A100CZK*ICZ2730300000001165254011,AIR", false, 0},
		{"bad date", "A1*D20180231", false, 0},
		{"field type not a letter", "A0*1abc", false, 0},
		{"invalid utf-8", "A0*T\xff", false, 0},
		{"login", "A2", true, 0},
		{"payment", "A1*A100CZK*ICZ2730300000001165254011*D20180425", true, 3},
		{"iban with bic", "A1*A1492.50EUR*ICZ2730300000001165254011,AIRACZPP", true, 2},
		{"omitted optional fields", "A1*A100CZK*ICZ2730300000001165254011***Nnote for recipient", true, 5},
		{"trailing empty fields", "A1*A100CZK*ICZ2730300000001165254011***", true, 5},
		{"escapes", `A0*TRate 1EUR \* 25\\49\nCZK*R/VS123456/SS/KS`, true, 2},
		{"unknown field type kept", "A0*Xfuture", true, 1},
		{"version B template 99", "B99*Qčeský účet", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseOperationData(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidOperationData) {
					t.Fatalf("want ErrInvalidOperationData, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Fields) != tc.fields {
				t.Fatalf("%d fields: %+v", len(d.Fields), d.Fields)
			}
			out, err := d.Encode()
			if err != nil || out != tc.in {
				t.Fatalf("re-encoded %q, %v", out, err)
			}
		})
	}
	d, _ := ParseOperationData(`A0*TRate 1EUR \* 25\\49\nCZK`)
	if d.Fields[0].Value != "Rate 1EUR * 25\\49\nCZK" {
		t.Fatalf("unescaped %q", d.Fields[0].Value)
	}
}

func TestOperationDataBuilder(t *testing.T) {
	due := time.Date(2018, 4, 25, 12, 0, 0, 0, time.UTC)
	s, err := NewOperationData(TemplatePayment).Amount("100.00", "EUR").IBAN("CZ2730300000001165254011", "").
		Empty().Date(due).Note("for *beer*\\nothing\nelse").Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `A1*A100.00EUR*ICZ2730300000001165254011**D20180425*Nfor \*beer\*\\nothing\nelse`; s != want {
		t.Fatalf("got %s", s)
	}
	d, err := ParseOperationData(s)
	if err != nil {
		t.Fatal(err)
	}
	if a, c, ok := d.Fields[0].Amount(); !ok || a != "100.00" || c != "EUR" {
		t.Fatalf("amount %q %q", a, c)
	}
	if iban, bic, ok := d.Fields[1].IBAN(); !ok || iban != "CZ2730300000001165254011" || bic != "" {
		t.Fatalf("iban %q %q", iban, bic)
	}
	bad := []struct {
		name string
		d    *OperationData
	}{
		{"control char in text", NewOperationData(0).Text("a\tb")},
		{"bad amount", NewOperationData(1).Amount("1e5", "EUR")},
		{"bad currency", NewOperationData(1).Amount("100", "E")},
		{"bad iban", NewOperationData(1).IBAN("12", "")},
		{"bad template", NewOperationData(100)},
		{"invalid utf-8", NewOperationData(0).Account("\xff")},
	}
	for _, tc := range bad {
		if _, err := tc.d.Encode(); !errors.Is(err, ErrInvalidOperationData) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
