package activation_test

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/language"

	"github.com/signet-sca/signet/activation"
)

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		name, lang, amount, currency string
		ok                           bool
		amountFormatted, symbol      string
	}{
		// Refusals first: nothing that is not a stored canonical decimal is formatted.
		{"empty", "en", "", "EUR", false, "", ""},
		{"negative", "en", "-1.00", "EUR", false, "", ""},
		{"exponent", "en", "1e3", "EUR", false, "", ""},
		{"two points", "en", "1.2.3", "EUR", false, "", ""},
		{"trailing point", "en", "1.", "EUR", false, "", ""},
		{"leading point", "en", ".5", "EUR", false, "", ""},
		{"leading zero", "en", "01.00", "EUR", false, "", ""},
		{"19 integer digits", "en", "1234567890123456789", "JPY", false, "", ""},
		{"BHD keeps 3 decimals", "en", "1.234", "BHD", true, "1.234", "BHD"},
		{"JPY has none", "ja", "1000000", "JPY", true, "1,000,000", "￥"},
		{"Czech grouping and comma", "cs", "1234567.50", "CZK", true, "1\u00a0234\u00a0567,50", "Kč"},
		{"Indian grouping", "hi-IN", "12345678.00", "INR", true, "1,23,45,678.00", "₹"},
		{"Swiss apostrophe", "de-CH", "1234567.50", "CHF", true, "1’234’567.50", "CHF"},
		{"18 digits exact", "en", "123456789012345678.99", "EUR", true, "123,456,789,012,345,678.99", "€"},
		{"unknown currency code shown as is", "en", "5.00", "ZZZ", true, "5.00", "ZZZ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := activation.FormatAmount(language.MustParse(tt.lang), tt.amount, tt.currency)
			if ok != tt.ok || f.Amount != tt.amountFormatted || f.Currency != tt.symbol {
				t.Fatalf("got %q %q %v, want %q %q %v", f.Amount, f.Currency, ok, tt.amountFormatted, tt.symbol, tt.ok)
			}
		})
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	for header, want := range map[string]string{"": "en", "***": "en", "cs-CZ,cs;q=0.9": "cs-CZ", "en;q=0.1, ar-BH": "ar-BH", "*": "en"} {
		if got := activation.ParseAcceptLanguage(header).String(); got != want {
			t.Errorf("ParseAcceptLanguage(%q) = %s, want %s", header, got, want)
		}
	}
}

// FuzzFormatAmount: whatever the Accept-Language header (untrusted) and amount, formatting never panics, and a
// formatted amount keeps every digit of the stored one in order (only separators are added).
func FuzzFormatAmount(f *testing.F) {
	f.Add("cs-CZ,cs;q=0.9,en;q=0.5", "1234567.50", "CZK")
	f.Add("ar-BH", "1.234", "BHD")
	f.Add("ja", "1000000", "JPY")
	f.Add("hi-IN;q=0.8, *", "12345678.00", "INR")
	f.Fuzz(func(t *testing.T, header, amount, currency string) {
		fa, ok := activation.FormatAmount(activation.ParseAcceptLanguage(header), amount, currency)
		if !ok {
			return
		}
		var digits []rune
		for _, r := range fa.Amount {
			if unicode.IsDigit(r) {
				digits = append(digits, '0'+rune(digitValue(r)))
			}
		}
		if strings.ReplaceAll(amount, ".", "") != string(digits) {
			t.Fatalf("%q formatted as %q", amount, fa.Amount)
		}
	})
}

// digitValue is the value of a decimal digit of any script (Unicode Nd digits come in runs of ten from zero).
func digitValue(r rune) int {
	for z := r; z > r-10; z-- {
		if !unicode.IsDigit(z - 1) {
			return int(r - z)
		}
	}
	return int(r-'0') % 10
}
