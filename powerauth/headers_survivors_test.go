package powerauth

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestAuthorizationHeaderSignatureLengthPerFactor shows that a 3.1+ pa_signature is base64 of 16 bytes per
// factor (PowerAuth 3.x, Computing and Validating Signatures, "HTTP header": the last 16 bytes of each
// component, concatenated): 16 for possession, 32 for two factors, 48 for three; any other length is
// refused and the message names the length the type needs.
func TestAuthorizationHeaderSignatureLengthPerFactor(t *testing.T) {
	header := func(typ string, sigLen int) string {
		return `PowerAuth pa_version="3.3", pa_activation_id="` + testActivationID + `", pa_application_key="` + testAppKey +
			`", pa_nonce="` + testNonce + `", pa_signature_type="` + typ + `", pa_signature="` +
			base64.StdEncoding.EncodeToString(make([]byte, sigLen)) + `"`
	}
	tests := []struct {
		name    string
		typ     string
		sigLen  int
		wantErr string // "" = accepted
	}{
		{"two factors, one component", "possession_knowledge", 16, "pa_signature is not base64 of 32 bytes"},
		{"two factors, half a component", "possession_biometry", 8, "pa_signature is not base64 of 32 bytes"},
		{"three factors, two components", "possession_knowledge_biometry", 32, "pa_signature is not base64 of 48 bytes"},
		{"possession, two components", "possession", 32, "pa_signature is not base64 of 16 bytes"},
		{"possession", "possession", 16, ""},
		{"possession_knowledge", "possession_knowledge", 32, ""},
		{"possession_biometry", "possession_biometry", 32, ""},
		{"possession_knowledge_biometry", "possession_knowledge_biometry", 48, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseAuthorizationHeader(header(tc.typ, tc.sigLen))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidHeader) || !strings.HasSuffix(err.Error(), ": "+tc.wantErr) {
					t.Fatalf("want ErrInvalidHeader %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.SignatureType.String() != tc.typ || h.Signature != base64.StdEncoding.EncodeToString(make([]byte, tc.sigLen)) {
				t.Fatalf("parsed %+v", h)
			}
		})
	}
}

// TestTokenHeaderTimestampLengthBounds shows that the token header's timestamp is 9 to 15 decimal digits,
// both ends included, like PowerAuthTokenHttpHeaderValidator (PowerAuth 3.x, MAC Token Based
// Authentication): 8 and 16 digits are refused with the reason, 9 and 15 parse to their value.
func TestTokenHeaderTimestampLengthBounds(t *testing.T) {
	header := func(ts string) string {
		return `PowerAuth token_id="` + testActivationID + `", token_digest="` + base64.StdEncoding.EncodeToString(make([]byte, 32)) +
			`", nonce="` + testNonce + `", timestamp="` + ts + `", version="3.3"`
	}
	for _, ts := range []string{"12345678", "1234567890123456"} {
		t.Run(strconv.Itoa(len(ts))+" digits", func(t *testing.T) {
			_, err := ParseTokenHeader(header(ts))
			if !errors.Is(err, ErrInvalidHeader) || !strings.HasSuffix(err.Error(), ": timestamp is not 9–15 decimal digits") {
				t.Fatalf("want the timestamp refusal, got %v", err)
			}
		})
	}
	for _, ts := range []string{"123456789", "123456789012345"} {
		t.Run(strconv.Itoa(len(ts))+" digits", func(t *testing.T) {
			h, err := ParseTokenHeader(header(ts))
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := strconv.ParseInt(ts, 10, 64); h.TimestampMs != want {
				t.Fatalf("timestamp %d, want %d", h.TimestampMs, want)
			}
		})
	}
}

// TestEncryptionHeaderVersion shows that X-PowerAuth-Encryption's version field is required and read
// (PowerAuth 3.x, End-To-End Encryption, "HTTP header"): the parsed Version is the header's, and a header
// without it is refused as "missing version".
func TestEncryptionHeaderVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want Version
	}{{"3.2", Version32}, {"3.3", Version33}, {"3.0", Version30}} {
		h, err := ParseEncryptionHeader(`PowerAuth application_key="` + testAppKey + `", version="` + tc.v + `"`)
		if err != nil || h.Version != tc.want {
			t.Fatalf("version %s: got %+v, %v", tc.v, h, err)
		}
	}
	_, err := ParseEncryptionHeader(`PowerAuth application_key="` + testAppKey + `", activation_id="` + testActivationID + `"`)
	if !errors.Is(err, ErrInvalidHeader) || !strings.HasSuffix(err.Error(), ": missing version") {
		t.Fatalf("want ErrInvalidHeader missing version, got %v", err)
	}
}

// TestBase64FieldsAreCanonical: a base64 field is refused unless it is the one spelling of its bytes (RFC 4648
// §3.5: the unused bits of the last character are zero). A lenient decoder would read "AB==" and "AA==" as
// the same byte, and a 3.1+ signature spelled the other way, compared as text, would be counted as a wrong
// PIN although its value is right.
func TestBase64FieldsAreCanonical(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString(make([]byte, 32)) // "AAAA…AAA=": 43 characters carry 258 bits
	loose := sig[:42] + "B="                                   // the same 32 bytes, unused bits set
	if b, err := base64.StdEncoding.DecodeString(loose); err != nil || len(b) != 32 {
		t.Fatalf("the lenient reading: %d bytes, %v", len(b), err)
	}
	h := `PowerAuth pa_version="3.3", pa_activation_id="` + testActivationID + `", pa_application_key="` + testAppKey +
		`", pa_nonce="` + testNonce + `", pa_signature_type="possession_knowledge", pa_signature="`
	if _, err := ParseAuthorizationHeader(h + sig + `"`); err != nil {
		t.Fatalf("canonical: %v", err)
	}
	if _, err := ParseAuthorizationHeader(h + loose + `"`); !errors.Is(err, ErrInvalidHeader) ||
		!strings.HasSuffix(err.Error(), ": pa_signature is not base64 of 32 bytes") {
		t.Fatalf("non-canonical signature: %v, want ErrInvalidHeader", err)
	}
}
