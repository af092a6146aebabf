package activation

import (
	"strconv"
	"strings"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// DefaultLanguage is the display language when a request names none that parses (Wultra's enrollment server
// falls back to English too).
var DefaultLanguage = language.English

// ParseAcceptLanguage returns the language a mobile-token answer is formatted for: the Accept-Language
// entry of highest quality (RFC 9110 §12.5.4), or DefaultLanguage when the header is absent or does not parse.
// Any BCP 47 tag is accepted; CLDR data of its nearest parent formats it.
func ParseAcceptLanguage(header string) language.Tag {
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return DefaultLanguage
	}
	for _, t := range tags { // by quality; "*" (mul) and und name no language
		if b, _ := t.Base(); b.String() != "mul" && b.String() != "und" {
			return t
		}
	}
	return DefaultLanguage
}

// FormattedAmount is an amount as the mobile-token SDKs display it: AmountAttribute.amountFormatted and
// currencyFormatted (Wultra enrollment server MonetaryConverter: NumberFormat.getInstance(locale) with the
// currency's ISO 4217 fraction digits, and Currency.getSymbol(locale)).
type FormattedAmount struct {
	Amount   string
	Currency string
}

// FormatAmount formats a canonical decimal amount (as stored: digits without leading zeros, optionally one
// '.' and exactly the currency's minor-unit digits, e.g. "1234.5" is never stored, "1234.50" is) in the locale of tag. The
// digits are never rounded or converted through a float: the fraction is the stored one, so a BHD 1.234
// payment shows three decimals and a JPY 1000 payment none; only grouping, the decimal separator and the
// digits' script follow the locale. ok is false when amount is not such a decimal (then nothing is shown
// formatted and the SDK falls back to the raw amount).
func FormatAmount(tag language.Tag, amount, code string) (FormattedAmount, bool) {
	intPart, frac, _ := strings.Cut(amount, ".")
	if intPart == "" || len(intPart) > 18 || (len(intPart) > 1 && intPart[0] == '0') || !allDigits(intPart) || !allDigits(frac) || strings.Count(amount, ".") > 1 ||
		(strings.Contains(amount, ".") && frac == "") {
		return FormattedAmount{}, false
	}
	n, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil {
		return FormattedAmount{}, false
	}
	p := message.NewPrinter(tag)
	var b strings.Builder
	b.WriteString(p.Sprint(number.Decimal(n)))
	if frac != "" {
		// The locale's decimal separator and zero digit, read off a formatted 1.5 and 0 (CLDR symbols
		// are not exported by x/text): "1.5", "1,5", "١٫٥".
		ref := []rune(p.Sprint(number.Decimal(1.5, number.Scale(1))))
		zero := []rune(p.Sprint(number.Decimal(0)))
		if len(ref) < 3 || len(zero) != 1 {
			return FormattedAmount{}, false
		}
		b.WriteString(string(ref[1 : len(ref)-1]))
		for _, d := range frac {
			b.WriteRune(zero[0] + (d - '0'))
		}
	}
	out := FormattedAmount{Amount: b.String(), Currency: code}
	if u, err := currency.ParseISO(code); err == nil {
		out.Currency = p.Sprint(currency.Symbol(u))
	}
	return out, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
