package txsign

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestCanonicalAmount(t *testing.T) {
	tests := []struct {
		name, amount, currency string
		want                   string
		wantField              string // non-empty: must fail on this field
	}{
		// Failures first.
		{name: "empty", amount: "", currency: "EUR", wantField: FieldAmount},
		{name: "zero", amount: "0", currency: "EUR", wantField: FieldAmount},
		{name: "zero with decimals", amount: "0.00", currency: "EUR", wantField: FieldAmount},
		{name: "zero many zeros", amount: "000.000", currency: "EUR", wantField: FieldAmount},
		{name: "negative", amount: "-1.00", currency: "EUR", wantField: FieldAmount},
		{name: "plus sign", amount: "+1.00", currency: "EUR", wantField: FieldAmount},
		{name: "exponent", amount: "1e3", currency: "EUR", wantField: FieldAmount},
		{name: "exponent upper", amount: "1E3", currency: "EUR", wantField: FieldAmount},
		{name: "leading space", amount: " 1.00", currency: "EUR", wantField: FieldAmount},
		{name: "trailing space", amount: "1.00 ", currency: "EUR", wantField: FieldAmount},
		{name: "inner space", amount: "1 000.00", currency: "EUR", wantField: FieldAmount},
		{name: "underscore", amount: "1_000.00", currency: "EUR", wantField: FieldAmount},
		{name: "comma grouping", amount: "1,000.00", currency: "EUR", wantField: FieldAmount},
		{name: "comma decimal", amount: "1,50", currency: "EUR", wantField: FieldAmount},
		{name: "two dots", amount: "1.0.0", currency: "EUR", wantField: FieldAmount},
		{name: "trailing dot", amount: "100.", currency: "EUR", wantField: FieldAmount},
		{name: "leading dot", amount: ".5", currency: "EUR", wantField: FieldAmount},
		{name: "only dot", amount: ".", currency: "EUR", wantField: FieldAmount},
		{name: "hex", amount: "0x10", currency: "EUR", wantField: FieldAmount},
		{name: "fraction", amount: "1/3", currency: "EUR", wantField: FieldAmount},
		{name: "infinity", amount: "Inf", currency: "EUR", wantField: FieldAmount},
		{name: "NaN", amount: "NaN", currency: "EUR", wantField: FieldAmount},
		{name: "arabic-indic digits", amount: "١٠٠", currency: "EUR", wantField: FieldAmount},
		{name: "fullwidth digits", amount: "１００", currency: "EUR", wantField: FieldAmount},
		{name: "would round EUR", amount: "1.005", currency: "EUR", wantField: FieldAmount},
		{name: "would round JPY", amount: "100.5", currency: "JPY", wantField: FieldAmount},
		{name: "would round BHD", amount: "1.0001", currency: "BHD", wantField: FieldAmount},
		{name: "below minor unit", amount: "0.001", currency: "EUR", wantField: FieldAmount},
		{name: "19 integer digits", amount: "1000000000000000000", currency: "EUR", wantField: FieldAmount},
		{name: "overlong input", amount: strings.Repeat("0", 63) + "1.00", currency: "EUR", wantField: FieldAmount},
		{name: "lower-case currency", amount: "1", currency: "eur", wantField: FieldCurrency},
		{name: "empty currency", amount: "1", currency: "", wantField: FieldCurrency},
		{name: "numeric currency", amount: "1", currency: "978", wantField: FieldCurrency},
		{name: "unknown currency", amount: "1", currency: "ABC", wantField: FieldCurrency},
		{name: "withdrawn HRK", amount: "1", currency: "HRK", wantField: FieldCurrency},
		{name: "gold", amount: "1", currency: "XAU", wantField: FieldCurrency},
		{name: "SDR", amount: "1", currency: "XDR", wantField: FieldCurrency},
		{name: "testing code", amount: "1", currency: "XTS", wantField: FieldCurrency},
		{name: "no currency", amount: "1", currency: "XXX", wantField: FieldCurrency},
		{name: "four letters", amount: "1", currency: "EURO", wantField: FieldCurrency},

		// Successes.
		{name: "integer EUR", amount: "100", currency: "EUR", want: "100.00"},
		{name: "one decimal EUR", amount: "1.5", currency: "EUR", want: "1.50"},
		{name: "leading zeros", amount: "007.10", currency: "EUR", want: "7.10"},
		{name: "canonical EUR", amount: "100.00", currency: "EUR", want: "100.00"},
		{name: "zero integer part", amount: "0.01", currency: "EUR", want: "0.01"},
		{name: "no integer zero", amount: "00.10", currency: "EUR", want: "0.10"},
		{name: "trailing zeros dropped", amount: "1.000", currency: "EUR", want: "1.00"},
		{name: "many trailing zeros dropped", amount: "1.50000000", currency: "EUR", want: "1.50"},
		{name: "JPY integer", amount: "15000", currency: "JPY", want: "15000"},
		{name: "JPY zero fraction dropped", amount: "100.0", currency: "JPY", want: "100"},
		{name: "KRW", amount: "50000", currency: "KRW", want: "50000"},
		{name: "BHD", amount: "12.5", currency: "BHD", want: "12.500"},
		{name: "KWD", amount: "1", currency: "KWD", want: "1.000"},
		{name: "JOD", amount: "0.001", currency: "JOD", want: "0.001"},
		{name: "OMR", amount: "3.25", currency: "OMR", want: "3.250"},
		{name: "TND", amount: "7", currency: "TND", want: "7.000"},
		{name: "IQD", amount: "250", currency: "IQD", want: "250.000"},
		{name: "LYD", amount: "9.999", currency: "LYD", want: "9.999"},
		{name: "CLF", amount: "1.2345", currency: "CLF", want: "1.2345"},
		{name: "CLF padded", amount: "2", currency: "CLF", want: "2.0000"},
		{name: "18 integer digits", amount: "999999999999999999.99", currency: "EUR", want: "999999999999999999.99"},
		{name: "18 digits after leading zeros", amount: "0000999999999999999999", currency: "JPY", want: "999999999999999999"},
		{name: "XOF zero minor", amount: "5000", currency: "XOF", want: "5000"},
		{name: "XCG replaced ANG", amount: "10", currency: "XCG", want: "10.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalAmount(tt.amount, tt.currency)
			if tt.wantField != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.wantField || !errors.Is(err, ErrValidation) {
					t.Fatalf("CanonicalAmount(%q, %q) = %q, %v; want ValidationError on %s", tt.amount, tt.currency, got, err, tt.wantField)
				}
				if ve.Reason == "" {
					t.Error("empty reason")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalAmount(%q, %q) = %q, %v; want %q", tt.amount, tt.currency, got, err, tt.want)
			}
		})
	}
}

func TestMinorUnitsRequiredCodes(t *testing.T) {
	want := map[string]int{
		"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "PLN": 2, "CZK": 2, "SEK": 2, "HUF": 2,
		"JPY": 0, "KRW": 0, "VND": 0, "ISK": 0, "CLP": 0,
		"BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3,
		"CLF": 4, "UYW": 4,
	}
	for code, n := range want {
		got, err := MinorUnits(code)
		if err != nil || got != n {
			t.Errorf("MinorUnits(%s) = %d, %v; want %d", code, got, err, n)
		}
	}
	for _, code := range []string{"XAU", "XAG", "XPT", "XPD", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"} {
		if _, err := MinorUnits(code); !errors.Is(err, ErrValidation) {
			t.Errorf("MinorUnits(%s) = %v; want refused", code, err)
		}
	}
}

func TestValidateIBAN(t *testing.T) {
	tests := []struct {
		name, iban string
		ok         bool
	}{
		{name: "empty", iban: ""},
		{name: "too short", iban: "DE89"},
		{name: "wrong check digits", iban: "DE88370400440532013000"},
		{name: "swapped digits", iban: "DE89370400440532031000"},
		{name: "wrong length for country", iban: "DE8937040044053201300"},
		{name: "unknown country", iban: "ZZ89370400440532013000"},
		{name: "digits for country", iban: "1289370400440532013000"},
		{name: "letters for check digits", iban: "DEAB370400440532013000"},
		{name: "punctuation", iban: "DE89-3704-0044-0532-0130-00"},
		{name: "35 chars", iban: "MT84MALT011000012345MTLCAST001S" + "0000"},
		{name: "non-ASCII", iban: "DE89370400440532013ÖÖ0"},

		{name: "DE electronic", iban: "DE89370400440532013000", ok: true},
		{name: "DE paper", iban: "DE89 3704 0044 0532 0130 00", ok: true},
		{name: "lower case", iban: "de89370400440532013000", ok: true},
		{name: "GB", iban: "GB29NWBK60161331926819", ok: true},
		{name: "NO shortest", iban: "NO9386011117947", ok: true},
		{name: "BE", iban: "BE68539007547034", ok: true},
		{name: "FR", iban: "FR1420041010050500013M02606", ok: true},
		{name: "MT letters in BBAN", iban: "MT84MALT011000012345MTLCAST001S", ok: true},
		{name: "LC longest", iban: "LC55HEMM000100010012001200023015", ok: true},
		{name: "RU", iban: "RU0204452560040702810412345678901", ok: true},
		{name: "BH", iban: "BH67BMAG00001299123456", ok: true},
		{name: "AT", iban: "AT611904300234573201", ok: true},
		{name: "CH", iban: "CH9300762011623852957", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateIBAN(tt.iban)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateIBAN(%q) = %v; want ok=%v", tt.iban, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
		})
	}
}

// ibanCheckDigits computes ISO 13616 check digits independently of the code under test.
func ibanCheckDigits(country, bban string) int {
	digits := ""
	for _, c := range bban + country + "00" {
		if c >= 'A' && c <= 'Z' {
			digits += big.NewInt(int64(c-'A') + 10).String()
		} else {
			digits += string(c)
		}
	}
	n, _ := new(big.Int).SetString(digits, 10)
	return 98 - int(n.Mod(n, big.NewInt(97)).Int64())
}

// TestCheckDigitAliasesRefused: MOD 97 cannot tell "97" from "00", "98" from "01" or "02"
// from "99"; ISO 13616 issues only 02..98, so the aliases must be refused.
func TestCheckDigitAliasesRefused(t *testing.T) {
	aliases := map[int]string{97: "00", 98: "01", 2: "99"}
	found := map[int]bool{}
	for i := 0; i < 10000 && len(found) < len(aliases); i++ {
		bban := "37040044053201" + string([]byte{byte('0' + i/1000), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
		cd := ibanCheckDigits("DE", bban)
		alias, ok := aliases[cd]
		if !ok || found[cd] {
			continue
		}
		found[cd] = true
		if err := ValidateIBAN("DE" + ibanTwoDigits(cd) + bban); err != nil {
			t.Fatalf("DE%02d%s: %v", cd, bban, err)
		}
		if err := ValidateIBAN("DE" + alias + bban); err == nil {
			t.Errorf("alias check digits DE%s%s accepted", alias, bban)
		}
	}
	if len(found) != len(aliases) {
		t.Fatalf("found only %v", found)
	}
}

func ibanTwoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

func TestLooksLikeIBAN(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"", false},
		{"DE8", false},
		{"12345678", false},
		{"D189370400440532013000", false},
		{"DEX9370400440532013000", false},
		{"DE89-3704", false},
		{"0001-123-4567890", false},
		{"DE89 3704 0044 0532 0130 00", true},
		{"de89370400440532013000", true},
		{"DE88370400440532013000", true}, // shape only
	}
	for _, tt := range tests {
		if got := LooksLikeIBAN(tt.s); got != tt.want {
			t.Errorf("LooksLikeIBAN(%q) = %v; want %v", tt.s, got, tt.want)
		}
	}
}

func FuzzCanonicalAmount(f *testing.F) {
	for _, s := range [][2]string{
		{"100", "EUR"}, {"1.5", "EUR"}, {"007.10", "EUR"}, {"1.000", "EUR"}, {"15000", "JPY"},
		{"12.345", "BHD"}, {"1.2345", "CLF"}, {"999999999999999999.99", "EUR"}, {"1.005", "EUR"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, amount, currency string) {
		got, err := CanonicalAmount(amount, currency)
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		minor, _ := MinorUnits(currency)
		// Idempotent.
		if again, err := CanonicalAmount(got, currency); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", amount, got, again, err)
		}
		// Same value, never rounded.
		in, ok1 := new(big.Rat).SetString(amount)
		out, ok2 := new(big.Rat).SetString(got)
		if !ok1 || !ok2 || in.Cmp(out) != 0 || out.Sign() <= 0 {
			t.Fatalf("value changed: %q → %q", amount, got)
		}
		// Exactly the minor digits.
		_, frac, hasDot := strings.Cut(got, ".")
		if (minor == 0 && hasDot) || (minor > 0 && len(frac) != minor) {
			t.Fatalf("%q has wrong minor digits for %s", got, currency)
		}
		if len(got) > 1 && got[0] == '0' && got[1] != '.' {
			t.Fatalf("%q keeps a leading zero", got)
		}
	})
}
