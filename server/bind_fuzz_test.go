package server

import (
	"errors"
	"testing"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/internal/strictjson"
)

// FuzzDecodeStrict: every request body goes through decodeStrict. It never
// panics, every refusal is an *InvalidError (a 400 with a message), and what it
// accepts is what internal/strictjson accepts (one value, valid UTF-8, no key
// twice under folding).
func FuzzDecodeStrict(f *testing.F) {
	seeds := []string{
		`{"external_id":"cust-1","display_name":"Jana"}`,
		`{"user_id":"4a6105cd-7898-4dc8-be79-fd27e237ba54","type":"payment","payee":{"account":"DE89370400440532013000","name":"ACME"},"amount":"100","currency":"EUR","expires_in":300,"factors":["device_key"]}`,
		`{"credential_id":"4a6105cd-7898-4dc8-be79-fd27e237ba54","signature":"MEUCIQ"}`,
		`{"credential_id":"4a6105cd-7898-4dc8-be79-fd27e237ba54","signature":"MEUCIQ","app_assertion":"omlzaWduYXR1cmVA"}`,
		`{"registration_code":"GS5T-BLSP-3DWF-M3YD-CX2X","public_key":{"kty":"EC"},"attestation":{"format":"android-key","certificate_chain":["MIIB","MII/+w=="]}}`,
		`{"registration_code":"GS5T","attestation":{"format":"apple-appattest","key_id":"q83v","object":"o2NmbXQ"}}`,
		`{"external_id":"a"} {}`, `{"external_id":`, `[]`, ``, `{"unknown":1}`,
		// issue 13 §8: duplicates under encoding/json's folding, invalid UTF-8.
		`{"amount":"1.00","Amount":"1000.00"}`, `{"factors":["passkey"],"factorſ":["device_key"]}`,
		"{\"display_name\":\"\xff\"}", `{"display_name":"\ud800"}`, `{"user_id":"a","userId":"b"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
		for i := 0; i < len(s); i += 7 {
			b := []byte(s)
			b[i] ^= 0x20
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u struct {
			ExternalID  string `json:"external_id"`
			DisplayName string `json:"display_name"`
		}
		var op createOperationRequest
		var sig deviceSignatureRequest
		var reg registerDeviceRequest
		for _, dst := range []any{&u, &op, &sig, &reg} {
			if err := decodeStrict(body, dst); err != nil {
				var inv *fault.InvalidError
				if !errors.As(err, &inv) {
					t.Fatalf("refusal is not a 400: %v", err)
				}
			} else if err := strictjson.Check(body); err != nil {
				t.Fatalf("accepted a body strictjson refuses: %v", err)
			}
		}
		if _, _, err := sig.Validate(); err != nil {
			var inv *fault.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("signature refusal is not a 400: %v", err)
			}
		}
		if _, err := reg.Validate(); err != nil {
			var inv *fault.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("attestation refusal is not a 400: %v", err)
			}
		}
	})
}
