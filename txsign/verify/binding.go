package verify

import (
	"fmt"
	"math/big"
	"strings"
)

// Binding is what a payment request asks for, taken from the request the gateway forwards:
// the amount as a decimal string, the ISO 4217 currency and the payee's account (IBAN in any
// spacing or case, or another identifier).
type Binding struct {
	Amount       string
	Currency     string
	PayeeAccount string
}

// CheckBinding checks that the request asks for exactly what the user approved (PSD2 RTS
// Art. 5(1)(c)-(d)): the token must hold one "payment_initiation" authorization detail whose
// instructed amount equals b.Amount as a decimal number ("100", "100.0" and "100.00" are
// equal; "100.01" is not), whose currency equals b.Currency exactly, and whose creditor
// account equals b.PayeeAccount once both are upper-cased and stripped of spaces. Every field
// of b is required; anything missing, unparsable or ambiguous is ErrBindingMismatch.
func (c *Claims) CheckBinding(b Binding) error {
	if c == nil {
		return fmt.Errorf("%w: no claims", ErrBindingMismatch)
	}
	var pi *AuthorizationDetail
	for i := range c.AuthorizationDetails {
		if c.AuthorizationDetails[i].Type != AuthorizationDetailPaymentInitiation {
			continue
		}
		if pi != nil {
			return fmt.Errorf("%w: token holds several payment_initiation details", ErrBindingMismatch)
		}
		pi = &c.AuthorizationDetails[i]
	}
	if pi == nil || pi.InstructedAmount == nil || pi.CreditorAccount == nil {
		return fmt.Errorf("%w: token holds no payment_initiation with amount and creditor account", ErrBindingMismatch)
	}
	want, ok1 := parseAmount(pi.InstructedAmount.Amount)
	got, ok2 := parseAmount(b.Amount)
	if !ok1 || !ok2 || want.Cmp(got) != 0 {
		return fmt.Errorf("%w: amount", ErrBindingMismatch)
	}
	if b.Currency == "" || b.Currency != pi.InstructedAmount.Currency {
		return fmt.Errorf("%w: currency", ErrBindingMismatch)
	}
	acct := normalizeAccount(pi.CreditorAccount.Identifier())
	if acct == "" || normalizeAccount(b.PayeeAccount) != acct {
		return fmt.Errorf("%w: payee account", ErrBindingMismatch)
	}
	return nil
}

// parseAmount accepts a positive plain decimal: digits, optionally '.' and digits. No sign,
// exponent, fraction or separators, which big.Rat.SetString alone would accept.
func parseAmount(s string) (*big.Rat, bool) {
	if s == "" || len(s) > 64 {
		return nil, false
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return nil, false
	}
	return r, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func normalizeAccount(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}
