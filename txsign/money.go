package txsign

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Field names carried by ValidationError, stable so that the HTTP layer can point at the
// offending request member.
const (
	FieldAmount       = "amount"
	FieldCurrency     = "currency"
	FieldPayeeAccount = "payee.account"
	FieldPayeeName    = "payee.name"
)

// Limits on operation input.
const (
	// MaxAmountIntegerDigits bounds the integer part of an amount (after leading zeros are
	// dropped): 18 digits fit an int64 count of major units and every real payment.
	MaxAmountIntegerDigits = 18
	// maxAmountInput bounds the raw input so that a string of a million leading zeros is
	// refused before it is scanned.
	maxAmountInput = 64
	// MaxPayeeNameRunes is the ISO 20022 Max140Text limit used for creditor names.
	MaxPayeeNameRunes = 140
	// MaxOtherAccountRunes is the ISO 20022 Max34Text limit of a generic account identifier
	// (GenericAccountIdentification1/Id).
	MaxOtherAccountRunes = 34
)

// ErrValidation is matched (errors.Is) by every *ValidationError this package returns.
var ErrValidation = errors.New("txsign: invalid input")

// ValidationError says which field of an operation is unacceptable and why. Reason is written
// for the bank's developer and is safe to return to the API caller: it never echoes the input.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return "txsign: invalid " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrValidation) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

func validationErr(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// MinorUnits returns the number of decimal places of an ISO 4217 currency ("EUR" → 2,
// "JPY" → 0, "BHD" → 3, "CLF" → 4). The code must be the upper-case alphabetic code of an
// active currency; fund, precious-metal, testing and "no currency" codes (XAU, XDR, XTS,
// XXX, ...) are refused because an operation must be payable.
func MinorUnits(currency string) (int, error) {
	if len(currency) != 3 || !isUpperAlpha(currency) {
		return 0, validationErr(FieldCurrency, "must be a three-letter upper-case ISO 4217 code such as EUR")
	}
	if n, ok := iso4217MinorUnits(currency); ok {
		return n, nil
	}
	if isoNonCurrency(currency) {
		return 0, validationErr(FieldCurrency, "is an ISO 4217 code for a metal, fund, unit of account or testing, not a payable currency")
	}
	return 0, validationErr(FieldCurrency, "is not an active ISO 4217 currency code")
}

// CanonicalAmount checks a decimal amount and writes it with exactly the currency's ISO 4217
// minor digits: "100" EUR → "100.00", "1.5" EUR → "1.50", "007.10" EUR → "7.10",
// "15000" JPY → "15000", "12.5" BHD → "12.500".
//
// Accepted input: ASCII digits with at most one '.', digits on both sides of it; no sign,
// exponent, spaces, underscores or grouping commas; at most 18 integer digits once leading
// zeros are dropped; greater than zero.
//
// An amount is never rounded: "1.005" EUR is refused. Zeros beyond the minor digits carry no
// value and are dropped ("1.000" EUR → "1.00", "100.0" JPY → "100"), so two spellings of the
// same value always give the same canonical string, and therefore the same dynamic-linking
// digest (PSD2 RTS Art. 5(1)(b): the code is specific to the amount, not to its spelling).
func CanonicalAmount(amount, currency string) (string, error) {
	minor, err := MinorUnits(currency)
	if err != nil {
		return "", err
	}
	const shape = "must be a positive decimal number such as 100.00: digits and at most one '.', no sign, exponent, spaces or separators"
	if amount == "" {
		return "", validationErr(FieldAmount, "is required")
	}
	if len(amount) > maxAmountInput {
		return "", validationErr(FieldAmount, "is too long")
	}
	intPart, frac, hasDot := strings.Cut(amount, ".")
	if intPart == "" || !allASCIIDigits(intPart) || (hasDot && (frac == "" || !allASCIIDigits(frac))) {
		return "", validationErr(FieldAmount, shape)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if len(intPart) > MaxAmountIntegerDigits {
		return "", validationErr(FieldAmount, "has more than "+strconv.Itoa(MaxAmountIntegerDigits)+" integer digits")
	}
	if len(frac) > minor {
		if strings.Trim(frac[minor:], "0") != "" {
			return "", validationErr(FieldAmount, currency+" has "+strconv.Itoa(minor)+" decimal places; amounts are never rounded")
		}
		frac = frac[:minor]
	}
	frac += strings.Repeat("0", minor-len(frac))
	if intPart == "0" && strings.Trim(frac, "0") == "" {
		return "", validationErr(FieldAmount, "must be greater than zero")
	}
	if minor == 0 {
		return intPart, nil
	}
	return intPart + "." + frac, nil
}

// LooksLikeIBAN reports whether s has the shape of an IBAN (ISO 13616-1): two letters, two
// digits, then letters and digits, 5 to 34 characters once spaces are removed. Case is
// ignored. It does not check the country, length or check digits: see ValidateIBAN.
func LooksLikeIBAN(s string) bool {
	c := strings.ReplaceAll(s, " ", "")
	if len(c) < 5 || len(c) > 34 {
		return false
	}
	if !isASCIILetter(c[0]) || !isASCIILetter(c[1]) || !isASCIIDigit(c[2]) || !isASCIIDigit(c[3]) {
		return false
	}
	for i := 4; i < len(c); i++ {
		if !isASCIILetter(c[i]) && !isASCIIDigit(c[i]) {
			return false
		}
	}
	return true
}

// ValidateIBAN checks an IBAN in electronic ("DE89370400440532013000") or paper
// ("DE89 3704 0044 0532 0130 00") format, in either case: country in the IBAN registry, the
// country's length, alphanumeric BBAN, and the ISO 13616-1 / ISO 7064 MOD 97-10 check digits.
func ValidateIBAN(s string) error {
	_, err := canonicalIBAN(s, "iban")
	return err
}

// NormalizeAccount returns the canonical form of a payee account identifier. Every character
// must be in the ISO 20022 restricted Latin set (a-z A-Z 0-9 / - ? : ( ) . , ' + space), so no
// right-to-left letter, invisible character or look-alike letter of another script can make
// the account shown differ from the account paid.
//
// An identifier that starts like an IBAN (two letters then two digits, ignoring every other
// character) must be a valid IBAN (ISO 13616-1) and is returned in electronic format (upper
// case, no spaces). Anything else is an "other" identifier (ISO 20022
// GenericAccountIdentification1/Id): 1–34 characters after trimming, at most one space in a
// row, not starting or ending with '/' and without '//'; it is returned trimmed, otherwise as
// given (case is kept).
func NormalizeAccount(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", validationErr(FieldPayeeAccount, "is not valid UTF-8")
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return "", validationErr(FieldPayeeAccount, "is required")
	}
	if p := accountCharProblem(t); p != "" {
		return "", validationErr(FieldPayeeAccount, p)
	}
	if ibanShaped(t) {
		return canonicalIBAN(t, FieldPayeeAccount)
	}
	if p := otherAccountProblem(t); p != "" {
		return "", validationErr(FieldPayeeAccount, p)
	}
	return t, nil
}

// CanonicalPayeeName returns the payee display name in the form that is shown to the payer
// and hashed into the dynamic-linking digest: valid UTF-8, NFC (Unicode UAX #15), surrounding
// white space trimmed, 1–140 characters. PSD2 RTS Art. 5(1)(a) makes the payer aware of the
// payee, so a name must look like itself and like nothing else. Refused, each with the rule
// and the character (U+XXXX and its name) in the reason:
//
//   - control characters, line and paragraph separators;
//   - bidirectional formatting characters (UAX #9 §2; "Trojan Source", CVE-2021-42574);
//   - invisible characters: every format character (Cf: zero-width space and joiners, word
//     joiner, tags, BOM, ...) and every other Default_Ignorable_Code_Point (Hangul fillers,
//     variation selectors, combining grapheme joiner, ...);
//   - spaces other than U+0020, two spaces in a row, blank-looking characters (U+2800);
//   - private-use and unassigned code points;
//   - a leading combining mark, the same nonspacing mark twice in a row, more than four
//     nonspacing marks in a row (UTS #39 §5.4);
//   - decimal digits of more than one numbering system (UTS #39 §5.3);
//   - script mixes beyond UTS #39 §5.2 "Highly Restrictive": one script, or Latin with
//     Han, Hiragana, Katakana, Hangul or Bopomofo (Common and Inherited characters, such as
//     digits, punctuation and combining accents, go with any script);
//   - anything else the RFC 8264 FreeformClass refuses (Old Hangul Jamo, RFC 5892
//     Appendix A contextual rules).
//
// Right-to-left names (Arabic, Hebrew) are single-script names and are accepted; pages show
// every name isolated (<bdi>) so that it cannot reorder the text around it.
func CanonicalPayeeName(s string) (string, error) {
	t, err := nfcTrimmed(s, FieldPayeeName, MaxPayeeNameRunes)
	if err != nil {
		return "", err
	}
	if p := nameProblem(t); p != "" {
		return "", validationErr(FieldPayeeName, p)
	}
	return t, nil
}

func canonicalText(s, field string, maxRunes int) (string, error) {
	t, err := nfcTrimmed(s, field, maxRunes)
	if err != nil {
		return "", err
	}
	pos := 0
	for _, r := range t {
		pos++
		if disguising(r) {
			return "", validationErr(field, "contains a control or bidirectional formatting character ("+
				"U+"+strings.ToUpper(strconv.FormatInt(int64(r), 16))+") at character "+strconv.Itoa(pos))
		}
	}
	return t, nil
}

// nfcTrimmed checks that s is UTF-8 and returns it in NFC, trimmed, with 1 to maxRunes runes.
func nfcTrimmed(s, field string, maxRunes int) (string, error) {
	if !utf8.ValidString(s) {
		return "", validationErr(field, "is not valid UTF-8")
	}
	t := strings.TrimSpace(norm.NFC.String(s))
	n := utf8.RuneCountInString(t)
	switch {
	case n == 0:
		return "", validationErr(field, "is required")
	case n > maxRunes:
		return "", validationErr(field, "is longer than "+strconv.Itoa(maxRunes)+" characters")
	}
	return t, nil
}

// disguising reports characters that must never appear in text the payer approves: C0/C1
// controls, U+2028/U+2029 separators, the byte order mark, and the Unicode bidirectional
// formatting characters (UAX #9 §2: embeddings, overrides, isolates and marks). Payee names
// are held to the stricter rules of nameProblem as well.
func disguising(r rune) bool {
	return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xFEFF || isBidiFormatting(r)
}

func canonicalIBAN(s, field string) (string, error) {
	c := strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if !LooksLikeIBAN(c) {
		return "", validationErr(field, "is not an IBAN: two letters, two check digits, then up to 30 letters and digits")
	}
	want, ok := ibanLength(c[:2])
	if !ok {
		return "", validationErr(field, "has a country code that does not issue IBANs")
	}
	if len(c) != want {
		return "", validationErr(field, "must be "+strconv.Itoa(want)+" characters long for "+c[:2])
	}
	// ISO 13616-1 §6: check digits are 02..98; "00", "01" and "99" alias "97", "98" and "02"
	// under MOD 97 and are never issued.
	if cd := c[2:4]; cd == "00" || cd == "01" || cd == "99" {
		return "", validationErr(field, "has invalid check digits")
	}
	// ISO 7064 MOD 97-10 over BBAN ‖ country ‖ check digits, letters as 10..35.
	rem := 0
	for _, ch := range []byte(c[4:] + c[:4]) {
		if isASCIIDigit(ch) {
			rem = (rem*10 + int(ch-'0')) % 97
		} else {
			rem = (rem*100 + int(ch-'A') + 10) % 97
		}
	}
	if rem != 1 {
		return "", validationErr(field, "has wrong check digits (mistyped?)")
	}
	return c, nil
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(s[i]) {
			return false
		}
	}
	return true
}

func isUpperAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isASCIIDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isASCIILetter(b byte) bool { return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') }

// iso4217MinorUnits is ISO 4217 List One (active codes, amendments up to 179: ZWG replaces ZWL,
// XCG replaces ANG, SLE replaces SLL, VED added, HRK/CUC/MRO/STD/VEF withdrawn). BGN is kept
// while Bulgarian lev payments remain in flight after the 2026 euro changeover. A switch
// rather than a map keeps the table immutable.
func iso4217MinorUnits(code string) (int, bool) {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0, true
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3, true
	case "CLF", "UYW":
		return 4, true
	case "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN",
		"BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
		"CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
		"DKK", "DOP", "DZD",
		"EGP", "ERN", "ETB", "EUR",
		"FJD", "FKP",
		"GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
		"HKD", "HNL", "HTG", "HUF",
		"IDR", "ILS", "INR", "IRR",
		"JMD",
		"KES", "KGS", "KHR", "KPW", "KYD", "KZT",
		"LAK", "LBP", "LKR", "LRD", "LSL",
		"MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN",
		"NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
		"PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
		"QAR",
		"RON", "RSD", "RUB",
		"SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
		"THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS",
		"UAH", "USD", "USN", "UYU", "UZS",
		"VED", "VES",
		"WST",
		"XCD", "XCG",
		"YER",
		"ZAR", "ZMW", "ZWG":
		return 2, true
	}
	return 0, false
}

// isoNonCurrency lists ISO 4217 codes that are not currencies: precious metals, bond-market
// units, SDR, Sucre, ADB unit of account, the testing code and "no currency".
func isoNonCurrency(code string) bool {
	switch code {
	case "XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX":
		return true
	}
	return false
}

// ibanLength is the IBAN length per country from the SWIFT IBAN Registry (ISO 13616-2).
// Territories that use another country's IBAN (e.g. GF, GP, RE under FR; JE, GG, IM under GB;
// AX under FI) are not listed: their IBANs start with the parent country code.
func ibanLength(country string) (int, bool) {
	switch country {
	case "NO":
		return 15, true
	case "BE":
		return 16, true
	case "DK", "FI", "FK", "FO", "GL", "NL", "SD":
		return 18, true
	case "MK", "SI":
		return 19, true
	case "AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK":
		return 20, true
	case "CH", "HR", "LI", "LV":
		return 21, true
	case "BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA":
		return 22, true
	case "AE", "GI", "IL", "IQ", "OM", "SO", "TL":
		return 23, true
	case "AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG":
		return 24, true
	case "LY", "PT", "ST":
		return 25, true
	case "IS", "TR":
		return 26, true
	case "BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM":
		return 27, true
	case "AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV":
		return 28, true
	case "BR", "EG", "PS", "QA", "UA":
		return 29, true
	case "JO", "KW", "MU", "YE":
		return 30, true
	case "MT", "SC":
		return 31, true
	case "LC":
		return 32, true
	case "RU":
		return 33, true
	}
	return 0, false
}
