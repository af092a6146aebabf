package powerauth

import (
	"errors"
	"strings"
	"testing"
)

func TestCRC16ARC(t *testing.T) {
	if got := crc16ARC([]byte("123456789")); got != 0xBB3D {
		t.Fatalf("CRC-16/ARC check value = %#04x, want 0xbb3d", got)
	}
}

func TestValidateActivationCode(t *testing.T) {
	tests := []struct {
		name  string
		code  string
		valid bool
	}{
		// Invalid examples from the notes first.
		{"zero is not base32", "67AAA-B0BCC-DDEEF-GGHHI", false},
		{"lower case", "67aAA-BBBCC-DDEEF-GGHHI", false},
		{"too short", "KLMNO-PQRST-UVWXY-Z234", false},
		{"empty", "", false},
		{"no dashes", "AAAAAAAAAAAAAAAAAAAAAAA", false},
		{"dash misplaced", "AAAA-AAAAAA-AAAAA-AAAAA", false},
		{"crc mismatch", "AAAAA-AAAAA-AAAAA-AAAQA", false},
		{"one is not base32", "AAAAA-AAAAA-AAAAA-AAA1A", false},
		{"unused bits set (strict policy)", "AAAAA-AAAAA-AAAAA-AAAAB", false},
		{"unused bits set on a valid code", "W65WE-3T7VI-7FBS2-A4OYB", false},
		{"too long", "AAAAA-AAAAA-AAAAA-AAAAA-", false},
		{"non-ascii", "ÄAAAA-AAAAA-AAAAA-AAAA", false},
		// Valid examples from the notes.
		{"all A", "AAAAA-AAAAA-AAAAA-AAAAA", true},
		{"L", "LLLLL-LLLLL-LLLLL-LQJTA", true},
		{"V", "VVVVV-VVVVV-VVVVV-VTFVA", true},
		{"5", "55555-55555-55555-55YMA", true},
		{"mixed 1", "W65WE-3T7VI-7FBS2-A4OYA", true},
		{"mixed 2", "45AWJ-BVACS-SBWHS-ABANA", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateActivationCode(tc.code)
			if !tc.valid {
				if !errors.Is(err, ErrInvalidActivationCode) {
					t.Fatalf("want ErrInvalidActivationCode, got %v", err)
				}
				return
			}
			if err != nil || string(got) != tc.code {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestGenerateActivationCode(t *testing.T) {
	if got := activationCodeFromRandom([10]byte{}); got != "AAAAA-AAAAA-AAAAA-AAAAA" {
		t.Fatalf("zero bytes gave %s", got)
	}
	seen := map[ActivationCode]bool{}
	for range 200 {
		c, err := GenerateActivationCode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ValidateActivationCode(string(c)); err != nil {
			t.Fatalf("generated %s does not validate: %v", c, err)
		}
		if seen[c] {
			t.Fatalf("duplicate %s", c)
		}
		seen[c] = true
	}
}

func TestCorrectActivationCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "ABC"},
		{"w65we3t7vi7fbs2a4oya", "W65WE-3T7VI-7FBS2-A4OYA"},
		{"W65WE 3T7VI 7FBS2 A4OYA", "W65WE-3T7VI-7FBS2-A4OYA"},
		{" w65we-3t7vi-7fbs2-a4oya ", "W65WE-3T7VI-7FBS2-A4OYA"},
		{"LLLLL-LLLLL-LLLLL-LQJTA", "LLLLL-LLLLL-LLLLL-LQJTA"},
		{"0000011111", "OOOOOIIIII"},
		{"45awj-bvacs-sbwhs-aban0", "45AWJ-BVACS-SBWHS-ABANO"},
		{"az`{", "AZ`{"}, // the ends of a–z upper-cased, their neighbours left as typed
	}
	for _, tc := range tests {
		if got := CorrectActivationCode(tc.in); got != tc.want {
			t.Errorf("CorrectActivationCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A typed code with 0/1 confusions validates after correction.
	if _, err := ValidateActivationCode(CorrectActivationCode("w65we-3t7v1-7fbs2-a40ya")); err != nil {
		t.Fatal(err)
	}
}

func TestActivationQRPayload(t *testing.T) {
	master, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	code, err := GenerateActivationCode()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignActivationCode(master, code)
	if err != nil {
		t.Fatal(err)
	}
	good := ActivationQRPayload(code, sig)
	otherCode := activationCodeFromRandom([10]byte{1})
	tests := []struct {
		name    string
		payload string
		pub     *PublicKey
		wantErr error
	}{
		{"no signature", string(code), master.PublicKey(), ErrInvalidActivationCode},
		{"bad code", "AAAAA-AAAAA-AAAAA-AAAAB#" + strings.SplitN(good, "#", 2)[1], master.PublicKey(), ErrInvalidActivationCode},
		{"signature of another code", string(otherCode) + "#" + strings.SplitN(good, "#", 2)[1], master.PublicKey(), ErrInvalidSignature},
		{"wrong key", good, other.PublicKey(), ErrInvalidSignature},
		{"not base64", string(code) + "#!!!", master.PublicKey(), ErrInvalidSignature},
		{"empty signature", string(code) + "#", master.PublicKey(), ErrInvalidSignature},
		{"valid", good, master.PublicKey(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseActivationQRPayload(tc.payload, tc.pub)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("want %v, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || got != code {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
