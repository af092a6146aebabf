package powerauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestPossessionSignatureNeverFactorMismatch shows that a failed possession-only signature is a plain
// ErrSignatureMismatch, never ErrFactorMismatch: there is no knowledge or biometry factor to be wrong
// (PowerAuth 3.x, Computing and Validating Signatures; VerifySignature's contract). The signature sent is
// the right one spelt with non-zero unused base64 bits, which decodes to the expected bytes but is not
// the canonical text the server compares.
func TestPossessionSignatureNeverFactorMismatch(t *testing.T) {
	keys := testSignatureKeys()
	ctr, err := NewCounterData()
	if err != nil {
		t.Fatal(err)
	}
	data := SignatureData("POST", "/pa/v3/token/create", []byte("nonce-nonce-1234"), []byte("{}"), "YXBwc2VjcmV0YXBwc2VjcmV0")
	sig, err := ComputeSignature(data, keys, SignaturePossession, ctr, FormatBase64)
	if err != nil {
		t.Fatal(err)
	}
	// 16 bytes are 22 base64 characters and "=="; the 22nd carries 2 data bits and 4 unused ones.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, sig[21])
	odd := sig[:21] + string(alphabet[last|1]) + "=="
	if a, b := mustB64(t, sig), mustB64(t, odd); odd == sig || string(a) != string(b) {
		t.Fatalf("%q and %q decode differently", sig, odd)
	}
	v := SignatureVerification{Data: data, Signature: odd, Type: SignaturePossession, Format: FormatBase64, Keys: keys, Counter: 3, CounterData: ctr}
	if _, err := VerifySignature(v); !errors.Is(err, ErrSignatureMismatch) || errors.Is(err, ErrFactorMismatch) {
		t.Fatalf("non-canonical possession signature: got %v, want ErrSignatureMismatch only", err)
	}
	v.Signature = sig
	if m, err := VerifySignature(v); err != nil || m.Offset != 0 || m.NextCounter != 4 {
		t.Fatalf("canonical: %+v, %v", m, err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
