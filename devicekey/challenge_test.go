package devicekey

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// TestAttestationChallenge: the challenge is SHA-256 of the domain string, a zero byte and the
// normalised code, computed here from that text, and the same however the code is typed.
func TestAttestationChallenge(t *testing.T) {
	want := sha256.Sum256([]byte("signet-device-attestation-v1\x00GS5TBLSP3DWFM3YDCX2X"))
	for _, code := range []string{"GS5T-BLSP-3DWF-M3YD-CX2X", "gs5tblsp3dwfm3ydcx2x", "gs5t blsp 3dwf m3yd cx2x"} {
		if got := AttestationChallenge(code); !bytes.Equal(got, want[:]) {
			t.Fatalf("%q: %x, want %x", code, got, want)
		}
	}
	if AttestationChallenge("GS5T-BLSP-3DWF-M3YD-CX2Y") == nil || bytes.Equal(AttestationChallenge("GS5T-BLSP-3DWF-M3YD-CX2Y"), want[:]) {
		t.Fatal("another code must have another challenge")
	}
	if AttestationChallenge("GS5T-BLSP") != nil || AttestationChallenge("GS5T-BLSP-3DWF-M3YD-CX2!") != nil {
		t.Fatal("a malformed code has no challenge")
	}
	pk := []byte{0x30, 1, 2}
	cdh := sha256.Sum256(append(append([]byte(nil), want[:]...), pk...))
	if !bytes.Equal(AppAttestClientDataHash(want[:], pk), cdh[:]) {
		t.Fatal("App Attest clientDataHash")
	}
}
