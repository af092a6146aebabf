package webauthn_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/webauthn"
)

// TestParseEnvelopeCiphertextBounds: the ciphertext is AES-128-GCM over 6 to 12 ASCII digits, so 22 to 28
// bytes with its 16-byte tag (RFC 9180 §5.2; AES-128-GCM, RFC 5116 §5.1); one byte either side is refused
// before anything is decrypted.
func TestParseEnvelopeCiphertextBounds(t *testing.T) {
	enc := append([]byte{4}, bytes.Repeat([]byte{1}, 64)...)
	for _, tt := range []struct {
		ctLen int
		ok    bool
	}{
		{webauthn.MinPasscodeLen + 16 - 1, false},
		{webauthn.MinPasscodeLen + 16, true},
		{webauthn.MaxPasscodeLen + 16, true},
		{webauthn.MaxPasscodeLen + 16 + 1, false},
	} {
		raw := fmt.Sprintf(`{"enc":%q,"ct":%q}`, base64.RawURLEncoding.EncodeToString(enc),
			base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, tt.ctLen)))
		e, err := webauthn.ParseEnvelope([]byte(raw))
		switch {
		case tt.ok && (err != nil || len(e.Ciphertext) != tt.ctLen):
			t.Errorf("ciphertext of %d bytes: %v", tt.ctLen, err)
		case !tt.ok:
			var invalid *fault.InvalidError
			if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "ct must be") {
				t.Errorf("ciphertext of %d bytes: error %v, want the ct refused as invalid input", tt.ctLen, err)
			}
		}
	}
}

// TestParseEnvelopeSizeLimit: an envelope is read up to 1024 bytes (JSON whitespace included) and refused
// as too large past that, before it is decoded.
func TestParseEnvelopeSizeLimit(t *testing.T) {
	enc := append([]byte{4}, bytes.Repeat([]byte{1}, 64)...)
	raw := fmt.Sprintf(`{"enc":%q,"ct":%q}`, base64.RawURLEncoding.EncodeToString(enc),
		base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, webauthn.MinPasscodeLen+16)))
	if _, err := webauthn.ParseEnvelope([]byte(raw + strings.Repeat(" ", 1024-len(raw)))); err != nil {
		t.Errorf("an envelope of exactly 1024 bytes: %v", err)
	}
	var invalid *fault.InvalidError
	_, err := webauthn.ParseEnvelope([]byte(raw + strings.Repeat(" ", 1025-len(raw))))
	if !errors.As(err, &invalid) || len(invalid.Problems) != 1 || invalid.Problems[0] != (fault.FieldProblem{Field: "passcode", Reason: "is too large"}) {
		t.Errorf("an envelope of 1025 bytes: %v, want passcode: is too large", err)
	}
}
