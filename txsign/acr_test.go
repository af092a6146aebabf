package txsign

import (
	"strings"
	"testing"

	"github.com/signet-sca/signet/txsign/verify"
)

// TestMintedACRIsWhatGatewaysDerive: for every amr Signet mints, the acr written into the token equals the class
// txsign/verify derives from the amr, so a gateway and Signet never disagree; "user" (RFC 8176: a presence
// test) is no inherence factor.
func TestMintedACRIsWhatGatewaysDerive(t *testing.T) {
	for _, tc := range []struct {
		name string
		amr  []string
		want string
	}{
		{"device key", []string{"hwk"}, verify.ACR1FA},
		{"PowerAuth possession", []string{"swk"}, verify.ACR1FA},
		{"a presence test is not inherence", []string{"hwk", "user"}, verify.ACR1FA},
		{"passkey (device-bound) + passcode", []string{"hwk", "pin", "mfa"}, verify.ACRSCA},
		{"passkey (synced) + passcode", []string{"swk", "pin", "mfa"}, verify.ACRSCA},
		{"PowerAuth possession + knowledge", []string{"swk", "pin"}, verify.ACRSCA},
		{"PowerAuth possession + biometry", []string{"swk", "fpt"}, verify.ACRSCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := acrFor(tc.amr)
			if got != tc.want {
				t.Fatalf("acrFor(%v) = %s, want %s", tc.amr, got, tc.want)
			}
			c := verify.Claims{AMR: tc.amr, ACR: got}
			if derived := c.Assurance(); derived != got {
				t.Fatalf("minted %s, verify derives %s from amr %v", got, derived, tc.amr)
			}
			if !strings.HasPrefix(got, "urn:signet:acr:") {
				t.Fatalf("acr %q", got)
			}
		})
	}
}
