package txsign

import (
	"errors"
	"strings"
	"testing"
)

// TestCurrencyCodeShape: a currency is exactly three upper-case letters A to Z (ISO 4217 alphabetic code)
// before it is looked up; codes at both ends of the alphabet are payable currencies like any other.
func TestCurrencyCodeShape(t *testing.T) {
	for code, minor := range map[string]int{"AUD": 2, "ZAR": 2, "AZN": 2, "ZMW": 2} {
		if got, err := MinorUnits(code); err != nil || got != minor {
			t.Errorf("MinorUnits(%s) = %d, %v; want %d", code, got, err, minor)
		}
	}
	const shape = "must be a three-letter upper-case ISO 4217 code such as EUR"
	for _, code := range []string{"eur", "Eur", "EUr", "@UD", "ZA[", "EU1", "EURO", "EU", ""} {
		_, err := MinorUnits(code)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != FieldCurrency || ve.Reason != shape {
			t.Errorf("MinorUnits(%q) = %v; want %q", code, err, shape)
		}
	}
}

// TestAmountInputLength: the raw amount is read up to 64 characters (leading zeros included) and refused
// beyond, before any parsing.
func TestAmountInputLength(t *testing.T) {
	at64 := strings.Repeat("0", 60) + "1.00"
	if got, err := CanonicalAmount(at64, "EUR"); err != nil || got != "1.00" {
		t.Fatalf("CanonicalAmount(64 characters) = %q, %v; want 1.00", got, err)
	}
	_, err := CanonicalAmount("0"+at64, "EUR")
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != FieldAmount || ve.Reason != "is too long" {
		t.Fatalf("CanonicalAmount(65 characters) = %v; want too long", err)
	}
}

// TestLooksLikeIBANLength: the IBAN shape is 5 to 34 characters (ISO 13616-1) once spaces are removed.
func TestLooksLikeIBANLength(t *testing.T) {
	for s, want := range map[string]bool{
		"AB12C":                            true,
		"AB12":                             false,
		"AB12" + strings.Repeat("9", 30):   true,
		"AB12" + strings.Repeat("9", 31):   false,
		"AB12 " + strings.Repeat("9 ", 30): true,
	} {
		if got := LooksLikeIBAN(s); got != want {
			t.Errorf("LooksLikeIBAN(%q) (%d characters) = %v; want %v", s, len(strings.ReplaceAll(s, " ", "")), got, want)
		}
	}
}

// TestOperationTextNamesTheCharacter: a refused character of the free text is named with its position, so
// the bank's developer can find it.
func TestOperationTextNamesTheCharacter(t *testing.T) {
	_, err := canonicalText("Invoice\u202E24", "text", 500)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Reason != "contains a control or bidirectional formatting character (U+202E) at character 8" {
		t.Fatalf("canonicalText = %v", err)
	}
}
