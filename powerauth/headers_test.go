package powerauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const (
	testActivationID = "dfd09318-f4bc-4830-85dd-c8e4d911bcda"
	testAppKey       = "OUYAN9l3XOs3eQt9VujIcA=="
	testNonce        = "UJlXnlsljm08zPpwm7H5hQ=="
	testSig31        = "o/3zixXuZnz+xaYt/Cnocw=="
)

func TestParseAuthorizationHeader(t *testing.T) {
	valid := `PowerAuth pa_version="3.3", pa_activation_id="` + testActivationID + `", pa_application_key="` + testAppKey +
		`", pa_nonce="` + testNonce + `", pa_signature_type="possession", pa_signature="` + testSig31 + `"`
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"empty", ``, false},
		{"bearer", `Bearer abc`, false},
		{"prefix glued", `PowerAuthpa_version="3.3"`, false},
		{"missing signature", strings.Replace(valid, `, pa_signature="`+testSig31+`"`, "", 1), false},
		{"version 2.1", strings.Replace(valid, `"3.3"`, `"2.1"`, 1), false},
		{"version 3.4", strings.Replace(valid, `"3.3"`, `"3.4"`, 1), false},
		{"activation id not uuid", strings.Replace(valid, testActivationID, "not-a-uuid", 1), false},
		{"application key 15 bytes", strings.Replace(valid, testAppKey, base64.StdEncoding.EncodeToString(make([]byte, 15)), 1), false},
		{"nonce not base64", strings.Replace(valid, testNonce, "!!!", 1), false},
		{"unknown signature type", strings.Replace(valid, `"possession"`, `"knowledge_biometry"`, 1), false},
		{"signature length for two factors", strings.Replace(valid, `"possession"`, `"possession_knowledge"`, 1), false},
		{"decimal signature in 3.3", strings.Replace(valid, testSig31, "12345678", 1), false},
		{"base64 signature in 3.0", strings.Replace(valid, `"3.3"`, `"3.0"`, 1), false},
		{"duplicate field", valid + `, pa_version="3.3"`, false},
		{"unterminated quote", strings.TrimSuffix(valid, `"`), false},
		{"empty value", strings.Replace(valid, `pa_nonce="`+testNonce+`"`, `pa_nonce=""`, 1), false},
		{"junk after quote", strings.Replace(valid, `"3.3",`, `"3.3"x,`, 1), false},
		{"control character", strings.Replace(valid, ", ", ",\n", 1), false},
		{"too long", valid + ", x=" + strings.Repeat("a", maxHeaderLength), false},
		{"valid", valid, true},
		{"no commas", strings.ReplaceAll(valid, ", ", " "), true},
		{"commas without spaces", strings.ReplaceAll(valid, ", ", ","), true},
		{"other order and unquoted", `PowerAuth pa_signature=` + testSig31 + ` pa_signature_type=possession pa_nonce=` + testNonce +
			` pa_application_key=` + testAppKey + ` pa_activation_id=` + testActivationID + ` pa_version=3.3`, true},
		{"surrounding spaces and unknown field", "  " + valid + `, pa_future="x"  `, true},
		{"upper-case uuid and type", strings.Replace(strings.Replace(valid, testActivationID, strings.ToUpper(testActivationID), 1), `"possession"`, `"POSSESSION"`, 1), true},
		{"3.0 decimal", strings.Replace(strings.Replace(valid, `"3.3"`, `"3.0"`, 1), testSig31, "12345678", 1), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseAuthorizationHeader(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("want ErrInvalidHeader, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.ApplicationKey != testAppKey || !bytes.Equal(h.Nonce, b64(t, testNonce)) || h.SignatureType != SignaturePossession {
				t.Fatalf("parsed %+v", h)
			}
			again, err := ParseAuthorizationHeader(h.HeaderValue())
			if err != nil || again.HeaderValue() != h.HeaderValue() {
				t.Fatalf("rendered header does not parse back: %v", err)
			}
		})
	}
}

func TestTokenHeaderAndDigest(t *testing.T) {
	secret := TokenSecret{7, 7, 7}
	nonce := b64(t, testNonce)
	const ts = int64(1749762293560)
	d33, err := ComputeTokenDigest(secret, nonce, ts, Version33)
	if err != nil {
		t.Fatal(err)
	}
	// 3.2+ covers the version, 3.0/3.1 do not.
	want33 := hmacSHA256(secret[:], []byte(string(nonce)+"&1749762293560&3.3"))
	want31 := hmacSHA256(secret[:], []byte(string(nonce)+"&1749762293560"))
	d31, _ := ComputeTokenDigest(secret, nonce, ts, Version31)
	d30, _ := ComputeTokenDigest(secret, nonce, ts, Version30)
	d32, _ := ComputeTokenDigest(secret, nonce, ts, Version32)
	if !bytes.Equal(d33, want33) || !bytes.Equal(d31, want31) || !bytes.Equal(d30, d31) || bytes.Equal(d32, d33) {
		t.Fatal("token digest construction")
	}
	if _, err := ComputeTokenDigest(secret, nonce, ts, Version(40)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatal("version 4.0 accepted")
	}
	hdr := TokenHeader{TokenID: testActivationID, Digest: d33, Nonce: nonce, TimestampMs: ts, Version: Version33}
	valid := hdr.HeaderValue()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"missing version", strings.Replace(valid, `, version="3.3"`, "", 1), false},
		{"token id not uuid", strings.Replace(valid, testActivationID, "abc", 1), false},
		{"digest 16 bytes", strings.Replace(valid, base64.StdEncoding.EncodeToString(d33), testNonce, 1), false},
		{"timestamp too short", strings.Replace(valid, "1749762293560", "17497622", 1), false},
		{"timestamp leading zero", strings.Replace(valid, "1749762293560", "0749762293560", 1), false},
		{"timestamp not decimal", strings.Replace(valid, "1749762293560", "17497622935a0", 1), false},
		{"nonce 15 bytes", strings.Replace(valid, testNonce, base64.StdEncoding.EncodeToString(make([]byte, 15)), 1), false},
		{"valid", valid, true},
		{"android style", `PowerAuth version="3.3" nonce="` + testNonce + `" timestamp="1749762293560" token_digest="` +
			base64.StdEncoding.EncodeToString(d33) + `" token_id="` + testActivationID + `"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokenHeader(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("want ErrInvalidHeader, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyTokenDigest(secret, got); err != nil {
				t.Fatal(err)
			}
			if err := VerifyTokenDigest(TokenSecret{1}, got); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("wrong secret: %v", err)
			}
			got.Version = Version32
			if err := VerifyTokenDigest(secret, got); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("version is not covered: %v", err)
			}
		})
	}
}

func TestParseEncryptionHeader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		ok    bool
		scope EciesScope
	}{
		{"missing version", `PowerAuth application_key="` + testAppKey + `"`, false, 0},
		{"bad activation id", `PowerAuth application_key="` + testAppKey + `", activation_id="x", version="3.2"`, false, 0},
		{"bad application key", `PowerAuth application_key="abc", version="3.2"`, false, 0},
		{"ios", `PowerAuth version="3.3", application_key="` + testAppKey + `"`, true, ScopeApplication},
		{"android", `PowerAuth version="3.3" application_key="` + testAppKey + `" activation_id="` + testActivationID + `"`, true, ScopeActivation},
		{"java", `PowerAuth application_key="` + testAppKey + `", activation_id="` + testActivationID + `", version="3.2"`, true, ScopeActivation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseEncryptionHeader(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("want ErrInvalidHeader, got %v", err)
				}
				return
			}
			if err != nil || h.Scope() != tc.scope || h.ApplicationKey != testAppKey {
				t.Fatalf("got %+v, %v", h, err)
			}
		})
	}
}
