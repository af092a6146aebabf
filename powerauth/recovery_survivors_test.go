package powerauth

import (
	"errors"
	"testing"
)

// TestGenerateRecoveryPUKCount shows that a recovery code carries exactly the PUKs asked for, 1 to 100
// with both ends included (Wultra IdentifierGenerator.generateRecoveryCode: one random derivation index
// per PUK, the PUKs distinct), and that 0 and 101 are refused with the reason.
func TestGenerateRecoveryPUKCount(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, n := range []int{1, 2, 100} {
		info, err := GenerateRecovery(secret, n)
		if err != nil {
			t.Fatalf("%d PUKs: %v", n, err)
		}
		if len(info.PUKs) != n || len(info.Seed.PUKDerivationIndexes) != n {
			t.Fatalf("%d PUKs asked, got %d PUKs and %d indexes", n, len(info.PUKs), len(info.Seed.PUKDerivationIndexes))
		}
		seen := map[PUK]bool{}
		for _, p := range info.PUKs {
			if _, err := ValidatePUK(string(p)); err != nil || seen[p] {
				t.Fatalf("PUK %q: valid %v, repeated %v", p, err, seen[p])
			}
			seen[p] = true
		}
	}
	for _, n := range []int{0, 101} {
		if _, err := GenerateRecovery(secret, n); err == nil || err.Error() != "powerauth: a recovery code has 1 to 100 PUKs" {
			t.Fatalf("%d PUKs: %v", n, err)
		}
	}
}

// TestParseRecoveryCodeBarePrefix shows that the QR prefix "R:" is stripped even when nothing follows it:
// a scanned "R:" is an empty recovery code (0 characters), not a 2-character code.
func TestParseRecoveryCodeBarePrefix(t *testing.T) {
	for _, in := range []string{"R:", "r:", " R: "} {
		_, err := ParseRecoveryCode(in)
		if !errors.Is(err, ErrInvalidActivationCode) || err.Error() != ErrInvalidActivationCode.Error()+": want 23 characters, got 0" {
			t.Fatalf("ParseRecoveryCode(%q): %v", in, err)
		}
	}
}
