package powerauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// offlineQR renders p with an arbitrary (unverifiable) signature: ParseOfflinePayload checks the shape only.
func offlineQR(t *testing.T, p OfflinePayload, sig []byte) string {
	t.Helper()
	signed, err := p.signedPart()
	if err != nil {
		t.Fatal(err)
	}
	return signed + base64.StdEncoding.EncodeToString(sig)
}

// TestOfflinePayloadTrailingBackslash shows that a title or message line ending in a lone backslash is
// refused as a trailing backslash (PowerAuth 3.x, Off-line Signature QR Code, "Operation Attributes":
// only the escapes \n and \\ exist), and does not read past the end of the line.
func TestOfflinePayloadTrailingBackslash(t *testing.T) {
	qr := offlineQR(t, testOfflinePayload(), make([]byte, 70))
	lines := strings.Split(qr, "\n")
	for _, i := range []int{1, 2} {
		bad := append([]string(nil), lines...)
		bad[i] += `\`
		_, err := ParseOfflinePayload(strings.Join(bad, "\n"))
		if !errors.Is(err, ErrInvalidOfflinePayload) || err.Error() != ErrInvalidOfflinePayload.Error()+": trailing backslash" {
			t.Fatalf("line %d ending in a backslash: want trailing backslash, got %v", i, err)
		}
	}
	if got, err := unescapeOfflineText(`a\\`); err != nil || got != `a\` {
		t.Fatalf(`an escaped backslash at the end: %q, %v`, got, err)
	}
}

// TestOfflinePayloadPlainLinesAllowSpace shows that the lines written without escapes (operation id,
// flags, extra attributes) refuse characters below 0x20 and accept the space 0x20 itself, so a newer
// format's attribute with words in it is kept (PowerAuth 3.x, Off-line Signature QR Code, "Forward
// Compatibility").
func TestOfflinePayloadPlainLinesAllowSpace(t *testing.T) {
	server, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	p := testOfflinePayload()
	p.OperationID = "operation 1"
	p.Extra = []string{"NEW ATTRIBUTE", " "}
	qr, err := BuildOfflinePayload(p, server)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyOfflinePayload(qr, nil, server.PublicKey())
	if err != nil || got.OperationID != "operation 1" || len(got.Extra) != 2 || got.Extra[0] != "NEW ATTRIBUTE" || got.Extra[1] != " " {
		t.Fatalf("got %+v, %v", got, err)
	}
	p.Extra = []string{"NEW\x1fATTRIBUTE"}
	if _, err := BuildOfflinePayload(p, server); !errors.Is(err, ErrInvalidOfflinePayload) ||
		err.Error() != ErrInvalidOfflinePayload.Error()+": control character in extra attribute" {
		t.Fatalf("0x1F in an extra attribute: %v", err)
	}
}

// TestOfflinePayloadLengthBounds shows ParseOfflinePayload's shape bounds at their edges: a QR text of
// exactly 8192 bytes is read and one more byte is refused; a signature of 80 bytes is read (ECDSA then
// decides) and 81 refused; a last line of key type plus one character is a signature that is not base64,
// while a key type alone is a missing signature.
func TestOfflinePayloadLengthBounds(t *testing.T) {
	sig := make([]byte, 72)
	p := testOfflinePayload()
	base := len(offlineQR(t, p, sig))
	p.Message += strings.Repeat("m", 8192-base)
	exact := offlineQR(t, p, sig)
	if len(exact) != 8192 {
		t.Fatalf("built %d bytes", len(exact))
	}
	if got, err := ParseOfflinePayload(exact); err != nil || got.Message != p.Message {
		t.Fatalf("8192 bytes: %v", err)
	}
	p.Message += "m"
	if _, err := ParseOfflinePayload(offlineQR(t, p, sig)); !errors.Is(err, ErrInvalidOfflinePayload) ||
		err.Error() != ErrInvalidOfflinePayload.Error()+": too long or not UTF-8" {
		t.Fatalf("8193 bytes: %v", err)
	}

	p = testOfflinePayload()
	if got, err := ParseOfflinePayload(offlineQR(t, p, make([]byte, 80))); err != nil || len(got.Signature) != 80 {
		t.Fatalf("80-byte signature: %v", err)
	}
	qr81 := offlineQR(t, p, make([]byte, 81))
	if _, err := ParseOfflinePayload(qr81); !errors.Is(err, ErrInvalidOfflinePayload) ||
		err.Error() != ErrInvalidOfflinePayload.Error()+": signature is not base64 DER" {
		t.Fatalf("81-byte signature: %v", err)
	}

	qr := offlineQR(t, p, make([]byte, 70))
	head := qr[:strings.LastIndexByte(qr, '\n')+1]
	for _, tc := range []struct{ last, reason string }{
		{"1", "missing signature"},
		{"1A", "signature is not base64 DER"},
	} {
		_, err := ParseOfflinePayload(head + tc.last)
		if !errors.Is(err, ErrInvalidOfflinePayload) || err.Error() != ErrInvalidOfflinePayload.Error()+": "+tc.reason {
			t.Fatalf("last line %q: want %q, got %v", tc.last, tc.reason, err)
		}
	}
}
