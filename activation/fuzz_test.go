package activation

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-sca/signet/powerauth"
)

// Fuzz targets for the parsers of untrusted device input in this package: request bodies and decrypted
// ECIES payloads. Seeds are valid inputs plus single-bit corruptions; the properties are no panic and,
// for what is accepted, the invariants the callers rely on.

func seeds(f *testing.F, valid ...string) {
	for _, s := range valid {
		f.Add([]byte(s))
		for i := range len(s) {
			c := []byte(s)
			c[i] ^= 1 << (i % 8)
			f.Add(c)
		}
	}
}

func FuzzParseStatusRequest(f *testing.F) {
	seeds(f, `{"requestObject":{"activationId":"11111111-2222-4333-8444-555555555555","challenge":"AAECAwQFBgcICQoLDA0ODw=="}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseStatusRequest(b)
		if err == nil && (len(r.Challenge) != 16 || !powerauth.ValidUUID(r.ActivationID)) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzParseOperationRequest(f *testing.F) {
	seeds(f, `{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","data":"A1*A100.00EUR*ICZ2730300000001165254011"}}`,
		`{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","reason":"INCORRECT_DATA"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseOperationRequest(b)
		if err == nil && (validID("id", r.ID) != nil || (r.Reason != "" && !cancelReasons[r.Reason])) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzParseListAndKeystoreRequests(f *testing.F) {
	seeds(f, ``, `{}`, `{"requestObject":{}}`, `{"requestObject":{"jwt":"a.b.c"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseListRequest(b)
		if jwt, err := ParseKeystoreRequest(b); err == nil && jwt == "" {
			t.Fatal("accepted an empty JWT")
		}
	})
}

func FuzzParseLayers(f *testing.F) {
	dev, _ := powerauth.GeneratePrivateKey()
	master, _ := powerauth.GeneratePrivateKey()
	cfg := powerauth.EciesConfig{Version: powerauth.Version32, Scope: powerauth.ScopeApplication,
		SharedInfo1: powerauth.SharedInfo1ActivationLayer2, ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==",
		ApplicationSecret: "AAAAAAAAAAAAAAAAAAAAAA=="}
	env, _, err := cfg.SealRequest(master.PublicKey(), []byte("{}"), fixedNow)
	if err != nil {
		f.Fatal(err)
	}
	l2, _ := json.Marshal(map[string]string{"devicePublicKey": b64std(dev.PublicKey().Bytes()), "activationName": "phone",
		"platform": "iOS", "deviceInfo": "iPhone15,2", "activationOtp": "12345678"})
	l1, _ := json.Marshal(map[string]any{"type": "CODE", "identityAttributes": map[string]string{"code": "W65WE-3T7VI-7FBS2-A4OYA"},
		"activationData": env})
	rec, _ := json.Marshal(map[string]any{"type": "RECOVERY", "identityAttributes": map[string]string{
		"recoveryCode": "W65WE-3T7VI-7FBS2-A4OYA", "puk": "0123456789"}, "activationData": env})
	custom, _ := json.Marshal(map[string]any{"type": "CUSTOM", "identityAttributes": map[string]string{
		"username": "jana", "password": "correct horse"}, "activationData": env})
	seeds(f, string(l1), string(l2), string(rec), string(custom), `{"recoveryCode":"R:W65WE-3T7VI-7FBS2-A4OYA"}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseLayer1(b); err == nil {
			ok := r.ActivationData != nil
			switch r.Type {
			case TypeCode:
				_, err := powerauth.ValidateActivationCode(string(r.code))
				ok = ok && err == nil
			case TypeRecovery:
				_, err1 := powerauth.ValidateActivationCode(string(r.recoveryCode))
				_, err2 := powerauth.ValidatePUK(string(r.puk))
				ok = ok && err1 == nil && err2 == nil
			case TypeCustom:
				ok = ok && len(r.IdentityAttributes) > 0 && len(r.IdentityAttributes) <= MaxIdentityAttributes
			default:
				ok = false
			}
			if !ok {
				t.Fatalf("accepted level 1 %+v", r)
			}
		}
		if r, pub, err := parseLayer2(b); err == nil {
			if pub == nil || bytes.ContainsAny([]byte(r.ActivationName+r.Platform+r.DeviceInfo), "\x00\n\r") {
				t.Fatalf("accepted level 2 %+v", r)
			}
		}
		_, _ = parseVaultRequest(b)
		if c, err := parseConfirmRecovery(b); err == nil {
			if _, err := powerauth.ValidateActivationCode(string(c)); err != nil {
				t.Fatalf("accepted recovery code %q", c)
			}
		}
	})
}

func FuzzValidateOfflineCode(f *testing.F) {
	for _, s := range []string{"12345678-87654321", "1234-5678", "12345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateOfflineCode(s) == nil && (len(s) < 4 || len(s) > 17) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzParsePushRegistration(f *testing.F) {
	seeds(f, `{"requestObject":{"platform":"android","token":"dGVzdC1mY20tdG9rZW4"}}`,
		`{"requestObject":{"platform":"ios","token":"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"}}`,
		`{"requestObject":{"platform":"apns","token":"abc","environment":"development"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParsePushRegistration(b)
		if err != nil {
			return
		}
		if (r.Platform != "fcm" && r.Platform != "apns" && r.Platform != "hms") || r.Token == "" || len(r.Token) > MaxPushTokenLength ||
			strings.ContainsAny(r.Token, " \t\r\n") {
			t.Fatalf("accepted %+v", r)
		}
	})
}
