package activation

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// TestParsePushRegistrationBounds shows the limits of /api/push/device/register/token's requestObject
// (Wultra enrollment server PushRegisterRequest; mobile-token SDK WMTPushRegistrationData): the token is
// 1 to MaxPushTokenLength characters, the bound itself included, and the environment is absent (FCM, HMS)
// or APNs' "development" or "production", nothing else. Each refusal names the one field at fault.
func TestParsePushRegistrationBounds(t *testing.T) {
	long := strings.Repeat("a", MaxPushTokenLength)
	for _, tt := range []struct {
		name, platform, token, environment string
		field                              string // "": accepted, stored for provider
		provider                           string
	}{
		{"token one over the bound", "android", long + "a", "", "token", ""},
		{"empty token", "android", "", "", "token", ""},
		{"token with a space", "ios", "740f 4707", "", "token", ""},
		{"unknown environment", "ios", "740f4707", "staging", "environment", ""},
		{"environment in capitals", "ios", "740f4707", "Production", "environment", ""},
		{"unknown platform", "windows", "740f4707", "", "platform", ""},
		{"token at the bound", "android", long, "", "", "fcm"},
		{"short HMS token, no environment", "huawei", "dGVzdC1mY20tdG9rZW4", "", "", "hms"},
		{"APNs development", "ios", "740f4707", "development", "", "apns"},
		{"APNs production", "apns", "740f4707", "production", "", "apns"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj := map[string]string{"platform": tt.platform, "token": tt.token}
			if tt.environment != "" {
				obj["environment"] = tt.environment
			}
			body, err := json.Marshal(map[string]any{"requestObject": obj})
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParsePushRegistration(body)
			if tt.field == "" {
				if err != nil || r.Token != tt.token || r.Environment != tt.environment || r.Platform != tt.provider {
					t.Fatalf("got %s, %d-character token, %q, %v; want accepted", r.Platform, len(r.Token), r.Environment, err)
				}
				return
			}
			var inv *fault.InvalidError
			if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != tt.field {
				t.Fatalf("got %v, want %s refused", err, tt.field)
			}
		})
	}
}
