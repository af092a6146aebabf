package txsign_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/txsign"
)

func capabilities(t testing.TB, keks ...byte) *txsign.Capabilities {
	t.Helper()
	raw := make([][]byte, len(keks))
	for i, b := range keks {
		raw[i] = bytes.Repeat([]byte{b}, 32)
	}
	ring, err := kek.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := txsign.NewCapabilities(ring)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func flipBit(s string, bit int) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	b[bit/8] ^= 1 << (bit % 8)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestCapabilityCheck: only the operation's own capability passes; every
// refusal is an unknown operation to the caller, with its reason kept.
func TestCapabilityCheck(t *testing.T) {
	caps := capabilities(t, 7)
	const op, other = "3f1b2c4d-0000-4000-8000-000000000001", "3f1b2c4d-0000-4000-8000-000000000002"
	good := caps.Mint(op)
	b, _ := base64.RawURLEncoding.DecodeString(good)
	tests := []struct {
		name, presented, reason string
	}{
		{"missing", "", "missing capability"},
		{"another operation's", caps.Mint(other), "capability does not match the operation"},
		{"first bit flipped", flipBit(good, 0), "capability does not match the operation"},
		{"last bit flipped", flipBit(good, 255), "capability does not match the operation"},
		{"another KEK's", capabilities(t, 8).Mint(op), "capability does not match the operation"},
		{"truncated by one character", good[:len(good)-1], "malformed capability"},
		{"truncated to 16 bytes", base64.RawURLEncoding.EncodeToString(b[:16]), "malformed capability"},
		{"one byte longer", base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), b...), 0)), "malformed capability"},
		{"padded", good + "=", "malformed capability"},
		{"standard alphabet", base64.StdEncoding.EncodeToString(b), "malformed capability"},
		// 43 characters carry 258 bits, the last 2 unused: only the canonical spelling of
		// the MAC may pass, so a changed last character never does (either reason).
		{"last character changed", good[:len(good)-1] + string(good[len(good)-1]^1), "*"},
		{"whitespace around it", " " + good, "malformed capability"},
		{"the operation id", op, "malformed capability"},
		{"right one", good, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := caps.Check(op, tc.presented)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("the right capability was refused: %v", err)
				}
				return
			}
			var ce *txsign.CapabilityError
			if !errors.As(err, &ce) || (ce.Reason != tc.reason && tc.reason != "*") {
				t.Fatalf("got %v, want refusal %q", err, tc.reason)
			}
			if !errors.Is(err, fault.ErrNotFound) || err.Error() != "not found: operation" {
				t.Fatalf("a refusal must read as an unknown operation, got %q", err)
			}
		})
	}
}

// TestCapabilityIsTheSpecifiedHMAC pins the construction published in docs/web-sdk.md.
func TestCapabilityIsTheSpecifiedHMAC(t *testing.T) {
	kekBytes := bytes.Repeat([]byte{7}, 32)
	ring, _ := kek.New([][]byte{kekBytes})
	k, _, _ := ring.Derive(txsign.CapabilityPurpose)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("signet/op-capability/v1" + "op-1"))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if got := capabilities(t, 7).Mint("op-1"); got != want || len(got) != 43 {
		t.Fatalf("capability %q, want %q", got, want)
	}
	pepper, _, _ := ring.Derive("passcode-pepper")
	if bytes.Equal(k, pepper) {
		t.Fatal("the capability key must differ from the passcode pepper")
	}
}

// TestCapabilitySurvivesKEKRotation: a capability minted before a new KEK
// was put first still opens its operation; one of a removed KEK does not.
func TestCapabilitySurvivesKEKRotation(t *testing.T) {
	const op = "op-rotation"
	before := capabilities(t, 1).Mint(op)
	rotated := capabilities(t, 2, 1)
	if err := rotated.Check(op, before); err != nil {
		t.Fatalf("capability minted before the rotation: %v", err)
	}
	if rotated.Mint(op) == before {
		t.Fatal("new capabilities must come from the first KEK")
	}
	if err := capabilities(t, 2).Check(op, before); err == nil {
		t.Fatal("a capability of a removed KEK passed")
	}
	if a, b := capabilities(t, 1).Mint(op), capabilities(t, 1).Mint(op); a != b {
		t.Fatal("two replicas with the same KEK disagree")
	}
}

func TestCapabilityKeysNeverPrint(t *testing.T) {
	caps := capabilities(t, 9)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "caps", caps, "key", txsign.CapabilityKey{})
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", txsign.CapabilityKey{}, txsign.CapabilityKey{}, txsign.CapabilityKey{}, txsign.CapabilityKey{})
	if strings.Count(out, "[redacted]") != 6 {
		t.Fatalf("key material may leak: %s", out)
	}
}

// FuzzCapabilityCheck: whatever a client sends, only the exact capability of
// the operation passes, and every refusal is an unknown operation.
func FuzzCapabilityCheck(f *testing.F) {
	caps := capabilities(f, 3)
	const op = "3f1b2c4d-0000-4000-8000-000000000001"
	good := caps.Mint(op)
	f.Add(good)
	for _, bit := range []int{0, 1, 7, 128, 254, 255} {
		f.Add(flipBit(good, bit))
	}
	f.Add(good[:42])
	f.Add(good + "A")
	f.Add("")
	f.Fuzz(func(t *testing.T, presented string) {
		err := caps.Check(op, presented)
		if (err == nil) != (presented == good) {
			t.Fatalf("Check(%q) = %v", presented, err)
		}
		if err != nil && (!errors.Is(err, fault.ErrNotFound) || err.Error() != "not found: operation") {
			t.Fatalf("refusal %q does not read as an unknown operation", err)
		}
	})
}
