package powerauth

import (
	"errors"
	"testing"
)

// TestActivationQRSignatureLengthBound shows the shape bound of the QR's signature (PowerAuth 3.x,
// Activation Code, "QR code"): a decoded signature of up to 80 bytes goes to ECDSA verification with the
// master key, which refuses a wrong one with the bare ErrInvalidSignature; 81 bytes is refused before
// verification as not a DER signature. (A P-256 DER signature is at most 72 bytes.)
func TestActivationQRSignatureLengthBound(t *testing.T) {
	master, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	code, err := GenerateActivationCode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseActivationQRPayload(ActivationQRPayload(code, make([]byte, 80)), master.PublicKey()); err != ErrInvalidSignature {
		t.Fatalf("80-byte signature: want the ECDSA refusal %v, got %v", ErrInvalidSignature, err)
	}
	_, err = ParseActivationQRPayload(ActivationQRPayload(code, make([]byte, 81)), master.PublicKey())
	if !errors.Is(err, ErrInvalidSignature) || err.Error() != ErrInvalidSignature.Error()+": QR signature is not base64 DER" {
		t.Fatalf("81-byte signature: %v", err)
	}
}
