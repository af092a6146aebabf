package verify

import (
	"errors"
	"fmt"
	"strings"
)

// Authentication context classes (the "acr" claim) Signet mints, from weakest to strongest.
const (
	// ACR1FA: one authentication factor, e.g. a device key alone (possession), or a PowerAuth
	// possession-only signature.
	ACR1FA = "urn:signet:acr:1fa"
	// ACRSCA: strong customer authentication, two or more independent factors from different
	// categories (PSD2 RTS Art. 4(1) and Art. 9): a passkey with the passcode, a PowerAuth
	// possession + knowledge or possession + biometry signature.
	ACRSCA = "urn:signet:acr:sca"
)

// ErrInsufficientAuthentication: the token is valid, but the user authenticated with fewer
// independent factors than the request needs. Answer 403 insufficient_authentication.
var ErrInsufficientAuthentication = errors.New("verify: the approval's authentication is too weak for this request")

// Factor categories of PSD2 RTS Art. 6-8.
const (
	knowledge  = "knowledge"
	possession = "possession"
	inherence  = "inherence"
)

// amrCategory maps RFC 8176 §2 authentication method references to the category of element
// they prove. Methods that prove no element by themselves are absent: "mfa" and "mca" only claim
// that several were used, "user" is a presence test (not inherence), "rba", "geo" and "wia" are
// not elements at all. A token's assurance is decided from these, never from "acr" alone.
var amrCategory = map[string]string{
	"pwd": knowledge, "pin": knowledge, "kba": knowledge, // RFC 8176 §2: password, PIN, knowledge-based
	"hwk": possession, "swk": possession, "sc": possession, // hardware key, software key, smart card
	"otp": possession, "sms": possession, "tel": possession, // one-time code or confirmation sent to a device held
	"fpt": inherence, "face": inherence, "iris": inherence, "retina": inherence, "vbm": inherence, // biometrics
}

// Categories returns the distinct factor categories the token's amr proves, sorted.
func (c *Claims) Categories() []string {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range []string{inherence, knowledge, possession} {
		for _, m := range c.AMR {
			if amrCategory[m] == k && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// Assurance returns the class the token proves: ACRSCA when its amr names elements of two or
// more categories (PSD2 RTS Art. 4(1): "two or more elements categorised as knowledge,
// possession and inherence"), ACR1FA for one, "" for none. An "acr" claim may lower it, never
// raise it: a token whose acr says 1fa is 1fa, one whose acr says sca with a single-factor amr
// is 1fa, and an acr this package does not know is ignored.
func (c *Claims) Assurance() string {
	var got string
	switch n := len(c.Categories()); {
	case n >= 2:
		got = ACRSCA
	case n == 1:
		got = ACR1FA
	default:
		return ""
	}
	if c.ACR == ACR1FA {
		return ACR1FA
	}
	return got
}

// ParseACR reads a required class: "sca" or ACRSCA, "1fa" or ACR1FA (case-insensitive).
func ParseACR(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sca", ACRSCA:
		return ACRSCA, nil
	case "1fa", ACR1FA:
		return ACR1FA, nil
	}
	return "", fmt.Errorf("%q is not an authentication class (sca or 1fa)", s)
}

// CheckAuthentication returns ErrInsufficientAuthentication unless the token's Assurance meets
// required (ACRSCA or ACR1FA; "" means ACR1FA: at least one recognised factor).
func (c *Claims) CheckAuthentication(required string) error {
	if c == nil {
		return fmt.Errorf("%w: no claims", ErrInsufficientAuthentication)
	}
	got := c.Assurance()
	switch required {
	case ACRSCA:
		if got != ACRSCA {
			return fmt.Errorf("%w: %s required, amr %v (acr %q) proves %q", ErrInsufficientAuthentication, ACRSCA, c.AMR, c.ACR, got)
		}
	case ACR1FA, "":
		if got == "" {
			return fmt.Errorf("%w: amr %v names no authentication factor", ErrInsufficientAuthentication, c.AMR)
		}
	default:
		return fmt.Errorf("%w: unknown requirement %q", ErrInsufficientAuthentication, required)
	}
	return nil
}
