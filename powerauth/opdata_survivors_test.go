package powerauth

import (
	"errors"
	"strings"
	"testing"
)

// TestOperationDataBoundaries pins the edges of the structured operation data fields (PowerAuth 3.x,
// Operation Data Structure, "Data Types" and "Versioning"): the shortest amount is one digit and a currency
// ("A1EUR"); currencies and IBAN country codes use every letter A–Z, edges included (AUD, ZAR, AT…, ZZ is a
// shape, not a country list); an IBAN is 5–34 characters, both ends included (ISO 13616 caps it at 34)
// whose account part, like a BIC, is upper-case letters and digits only (0–9 and A–Z edges accepted, lower
// case and ':' refused); the version letter and the field type letter run A–Z, so a future 'Z' is read,
// kept and re-encoded, and '@' and '[' are not. Each refusal names its reason, and each accepted input
// re-encodes to itself.
func TestOperationDataBoundaries(t *testing.T) {
	iban := func(n int) string { return "CZ27" + strings.Repeat("0", n-4) }
	tests := []struct {
		name    string
		in      string
		wantErr string // "" = accepted
	}{
		{"amount of three characters", "A1*AEUR", `amount "EUR" needs {DECIMAL}{CURRENCY}`},
		{"currency with @", "A1*A5.00@UD", `amount "5.00@UD" needs {DECIMAL}{CURRENCY}`},
		{"currency with [", "A1*A5.00ZA[", `amount "5.00ZA[" needs {DECIMAL}{CURRENCY}`},
		{"iban of 4 characters", "A1*I" + iban(4), `"CZ27" is not an IBAN`},
		{"iban of 35 characters", "A1*I" + iban(35), `"` + iban(35) + `" is not an IBAN`},
		{"iban with a lower-case account", "A1*ICZ27abc", `"CZ27abc" is not an IBAN`},
		{"iban with : in the account", "A1*ICZ2712:4", `"CZ2712:4" is not an IBAN`},
		{"lower-case bic", "A1*ICZ2730300000001165254011,airaczpp", `"airaczpp" is not a BIC`},
		{"iban country with @", "A1*I@T611904300234573201", `"@T611904300234573201" is not an IBAN`},
		{"version [", "[0", `header "[0"`},
		{"version @", "@0", `header "@0"`},
		{"field type [", "A0*[x", `field type '['`},
		{"field type @", "A0*@x", `field type '@'`},
		{"amount of four characters", "A1*A1EUR", ""},
		{"currency AUD", "A1*A5.00AUD", ""},
		{"currency ZAR", "A1*A5.00ZAR", ""},
		{"austrian iban", "A1*IAT611904300234573201", ""},
		{"iban of 5 characters", "A1*I" + iban(5), ""},
		{"iban of 34 characters", "A1*I" + iban(34), ""},
		{"iban account with every edge character", "A1*ICZ2709AZ", ""},
		{"bic with 9 and Z", "A1*ICZ2730300000001165254011,ZZ99CZ9Z", ""},
		{"version Z", "Z0*Tfuture", ""},
		{"version A", "A0*Tnow", ""},
		{"unknown field type Z kept", "A0*Zfuture", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseOperationData(tc.in)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidOperationData) || err.Error() != ErrInvalidOperationData.Error()+": "+tc.wantErr {
					t.Fatalf("want %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out, err := d.Encode(); err != nil || out != tc.in {
				t.Fatalf("re-encoded %q, %v", out, err)
			}
		})
	}
	d, err := ParseOperationData("A1*A1EUR")
	if err != nil {
		t.Fatal(err)
	}
	if amount, currency, ok := d.Fields[0].Amount(); !ok || amount != "1" || currency != "EUR" {
		t.Fatalf("Amount() = %q, %q, %v", amount, currency, ok)
	}
	if _, _, ok := (OperationField{Type: FieldAmount, Value: "EUR"}).Amount(); ok {
		t.Fatal("Amount() of a bare currency is ok")
	}
	if d, err := ParseOperationData("Z0"); err != nil || d.Version != 'Z' {
		t.Fatalf("version Z: %+v, %v", d, err)
	}
	for _, typ := range []OperationFieldType{'@', '['} {
		_, err := (&OperationData{Version: 'A', Fields: []OperationField{{Type: typ, Value: "x"}}}).Encode()
		if !errors.Is(err, ErrInvalidOperationData) || err.Error() != ErrInvalidOperationData.Error()+": field type '"+string(rune(typ))+"'" {
			t.Fatalf("Encode of field type %q: %v", byte(typ), err)
		}
	}
}
