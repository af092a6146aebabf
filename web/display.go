package web

import "strings"

// AccountDisplay is the payee account as the approval page shows it: an IBAN in the
// ISO 13616-1 paper format, in groups of four separated by a space ("CZ65 0800 0000 1920
// 0014 5399"), anything else unchanged. Display only: the stored account, the one hashed
// into the dynamic-linking digest and carried in the token, stays in electronic format.
//
// Signet stores an account in IBAN shape only after its check digits verified
// (txsign.NormalizeAccount), so the shape alone decides here.
func AccountDisplay(s string) string {
	if !electronicIBAN(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// electronicIBAN reports the electronic format of an IBAN (ISO 13616-1): two upper-case
// letters, two digits, then upper-case letters and digits, 15 to 34 characters in all.
func electronicIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		upper, digit := c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
		switch {
		case i < 2 && !upper, i >= 2 && i < 4 && !digit, !upper && !digit:
			return false
		}
	}
	return true
}
