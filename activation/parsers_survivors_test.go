package activation

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// wantField checks a parser's verdict: field "" means accepted, otherwise refused with one problem, on field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("got %v, want accepted", err)
		}
		return
	}
	var inv *fault.InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != field {
		t.Fatalf("got %v, want %q refused", err, field)
	}
}

// TestDeviceInputBounds: each bound on untrusted device input holds at the bound and refuses one past it
// (PowerAuth 3.x request objects; the bounds are Signet's): a CUSTOM activation's identityAttributes
// (ActivationLayer1Request, 1 to MaxIdentityAttributes members), ActivationLayer2Request's extras (1024 bytes)
// and activationOtp (64), the mobile-token operation request's data (4096, the signed operation data), the
// keystore request's jwt (8192). Kills requests.go:151:70 (both), :194:24, :195:31, :225:22, :260:31 (both).
func TestDeviceInputBounds(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	envelope := fmt.Sprintf(`{"encryptedData":%q,"mac":%q,"nonce":%q,"timestamp":1}`, b64(16), b64(32), b64(16))
	custom := func(n int) error {
		attrs := map[string]string{}
		for i := range n {
			attrs[fmt.Sprintf("attr%d", i)] = "value"
		}
		a, _ := json.Marshal(attrs)
		_, err := parseLayer1([]byte(`{"type":"CUSTOM","identityAttributes":` + string(a) + `,"activationData":` + envelope + `}`))
		return err
	}
	layer2 := func(member string, n int) error {
		_, _, err := parseLayer2([]byte(fmt.Sprintf(`{"devicePublicKey":%q,%q:%q}`, testDeviceKey, member, strings.Repeat("x", n))))
		return err
	}
	operation := func(n int) error {
		_, err := ParseOperationRequest([]byte(fmt.Sprintf(`{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","data":%q}}`,
			strings.Repeat("A", n))))
		return err
	}
	keystore := func(n int) error {
		jwt := strings.Repeat("j", n)
		got, err := ParseKeystoreRequest([]byte(fmt.Sprintf(`{"requestObject":{"jwt":%q}}`, jwt)))
		if err == nil && got != jwt {
			return fmt.Errorf("got a %d-byte jwt, want %d", len(got), n)
		}
		return err
	}
	for _, tt := range []struct {
		name  string
		err   error
		field string
	}{
		{"custom: no attributes", custom(0), "identityAttributes"},
		{"custom: one attribute too many", custom(MaxIdentityAttributes + 1), "identityAttributes"},
		{"layer 2: extras one byte over", layer2("extras", 1025), "extras"},
		{"layer 2: activation OTP one byte over", layer2("activationOtp", 65), "activationOtp"},
		{"operation: data one byte over", operation(4097), "data"},
		{"keystore: jwt one byte over", keystore(8193), "jwt"},
		{"custom: one attribute", custom(1), ""},
		{"custom: at the bound", custom(MaxIdentityAttributes), ""},
		{"layer 2: extras at the bound", layer2("extras", 1024), ""},
		{"layer 2: activation OTP at the bound", layer2("activationOtp", 64), ""},
		{"operation: data at the bound", operation(4096), ""},
		{"keystore: jwt at the bound", keystore(8192), ""},
		{"keystore: short jwt", keystore(100), ""},
	} {
		t.Run(tt.name, func(t *testing.T) { wantField(t, tt.err, tt.field) })
	}
}

// TestParseVaultRequest: the decrypted vault unlock payload (PowerAuth 3.x, Vault Unlock,
// VaultUnlockRequestPayload) is empty or {"reason":...}; the reason is what the bank's audit records, so it
// comes back as sent, and anything but a JSON object is refused. Kills requests.go:284 (the empty payload
// parsed, a reason dropped) and :290 (a decoded reason dropped, a malformed payload accepted).
func TestParseVaultRequest(t *testing.T) {
	for _, tt := range []struct {
		name, plain, reason, field string
	}{
		{"an array", `[]`, "", "-"},
		{"a number as the reason", `{"reason":1}`, "", "reason"},
		{"empty", ``, "", ""},
		{"blank", " \n", "", ""},
		{"no reason", `{}`, "", ""},
		{"a reason", `{"reason":"NOT_SPECIFIED"}`, "NOT_SPECIFIED", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reason, err := parseVaultRequest([]byte(tt.plain))
			if tt.field == "-" {
				var inv *fault.InvalidError
				if !errors.As(err, &inv) {
					t.Fatalf("got %q, %v; want refused", reason, err)
				}
				return
			}
			wantField(t, err, tt.field)
			if err == nil && reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
		})
	}
}

// TestValidateOfflineCodeGroups: an offline code (PowerAuth 3.x, Offline Signatures) is one group (a
// possession-only signature) or two (two factors) of 4 to 8 digits, the bounds included. Kills
// requests.go:303 (len(parts) < 1 → <=: a single group refused) and :307 (len(p) < 4 → <=: 4 digits refused).
func TestValidateOfflineCodeGroups(t *testing.T) {
	for _, tt := range []struct {
		code, field string
	}{
		{"123", "code"},
		{"123456789", "code"},
		{"1234-123", "code"},
		{"", "code"},
		{"1234", ""},
		{"12345678", ""},
		{"1234-5678", ""},
		{"12345678-87654321", ""},
	} {
		t.Run(tt.code, func(t *testing.T) { wantField(t, ValidateOfflineCode(tt.code), tt.field) })
	}
}
