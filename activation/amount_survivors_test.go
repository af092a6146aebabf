package activation_test

import (
	"testing"

	"golang.org/x/text/language"

	"github.com/signet-sca/signet/activation"
)

// TestFormatAmountZero: a lone zero is the canonical integer part of an amount below one unit (0.50 EUR)
// and of a zero amount, so it is formatted; only a zero followed by more digits is a leading zero. Kills
// amount.go:49 len(intPart) > 1 → >= 1.
func TestFormatAmountZero(t *testing.T) {
	tests := []struct {
		amount, currency string
		ok               bool
		want             string
	}{
		{"00.50", "EUR", false, ""},
		{"0.50", "EUR", true, "0.50"},
		{"0", "JPY", true, "0"},
	}
	for _, tt := range tests {
		f, ok := activation.FormatAmount(language.English, tt.amount, tt.currency)
		if ok != tt.ok || f.Amount != tt.want {
			t.Errorf("FormatAmount(%q) = %q, %v; want %q, %v", tt.amount, f.Amount, ok, tt.want, tt.ok)
		}
	}
}
