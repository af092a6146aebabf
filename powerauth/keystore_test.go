package powerauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestTemporaryKeyJWT(t *testing.T) {
	secret := ApplicationSecret("AAECAwQFBgcICQoLDA0ODw==")
	appKey, err := TemporaryKeyRequestKey(ScopeApplication, secret, TransportKey{})
	if err != nil || !bytes.Equal(appKey, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Fatalf("application scope key %x, %v (want the decoded secret)", appKey, err)
	}
	transport := TransportKey{9, 9, 9}
	actKey, err := TemporaryKeyRequestKey(ScopeActivation, secret, transport)
	if want := KDFInternal(SecretKey(transport), appKey); err != nil || !bytes.Equal(actKey, want[:]) {
		t.Fatalf("activation scope key %x, %v", actKey, err)
	}
	req := TemporaryKeyRequest{ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", ActivationID: "11111111-2222-4333-8444-555555555555",
		Challenge: "abc", IssuedAtMs: 1700000000000}
	tok, err := SignTemporaryKeyRequest(actKey, req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		key   []byte
	}{
		{"wrong key", tok, appKey},
		{"flipped signature", tok[:len(tok)-2] + flipB64(tok[len(tok)-2]) + tok[len(tok)-1:], actKey},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(tok, ".")[1] + ".", actKey},
		{"two segments", strings.Join(strings.Split(tok, ".")[:2], "."), actKey},
		{"padded segment", tok + "=", actKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyTemporaryKeyRequest(tt.token, tt.key); !errors.Is(err, ErrInvalidJWT) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	got, err := VerifyTemporaryKeyRequest(tok, actKey)
	if err != nil || got != req {
		t.Fatalf("got %+v, %v", got, err)
	}

	server := fixedKey(t, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	other := fixedKey(t, "2234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	tmp := fixedKey(t, "3234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	resp := TemporaryKeyResponse{KeyID: "11111111-2222-4333-8444-555555555555", ApplicationKey: req.ApplicationKey,
		Challenge: "abc", PublicKey: base64.StdEncoding.EncodeToString(tmp.PublicKey().Bytes()), IssuedAt: 1, IssuedAtMs: 1000, ExpiresAt: 301, ExpiresAtMs: 301000}
	rt, err := SignTemporaryKeyResponse(server, resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTemporaryKeyResponse(rt, other.PublicKey()); !errors.Is(err, ErrInvalidJWT) {
		t.Fatalf("another key verified: %v", err)
	}
	if sig := strings.Split(rt, ".")[2]; len(sig) != 86 {
		t.Fatalf("ES256 signature segment of %d characters, want 86 (raw r||s)", len(sig))
	}
	back, err := VerifyTemporaryKeyResponse(rt, server.PublicKey())
	if err != nil || back != resp {
		t.Fatalf("got %+v, %v", back, err)
	}
}

func flipB64(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestPINStorage(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 16)
	k := SignatureKey{1, 2, 3}
	enc, err := EncryptKnowledgeKey(k, "1234", salt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EncryptKnowledgeKey(k, "1234", salt[:8]); err == nil {
		t.Fatal("short salt accepted")
	}
	wrong, err := DecryptKnowledgeKey(enc[:], "1235", salt)
	if err != nil || wrong == k {
		t.Fatalf("a wrong PIN must give a wrong key without an error: %v", err)
	}
	right, err := DecryptKnowledgeKey(enc[:], "1234", salt)
	if err != nil || right != k {
		t.Fatalf("right PIN: %v", err)
	}
}

func FuzzTemporaryKeyRequest(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 16)
	for _, r := range []TemporaryKeyRequest{
		{ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", Challenge: "c"},
		{ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", ActivationID: "11111111-2222-4333-8444-555555555555", Challenge: "abc", IssuedAtMs: 1},
	} {
		tok, err := SignTemporaryKeyRequest(key, r)
		if err != nil {
			f.Fatal(err)
		}
		addStringSeeds(f, tok)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTemporaryKeyRequest(s)
		if err != nil {
			return
		}
		if r.Challenge == "" || (r.ActivationID != "" && !ValidUUID(r.ActivationID)) {
			t.Fatalf("accepted claims %+v", r)
		}
		if v, err := VerifyTemporaryKeyRequest(s, key); err == nil && v != r {
			t.Fatalf("verified claims %+v differ from parsed %+v", v, r)
		}
	})
}

func FuzzTemporaryKeyResponse(f *testing.F) {
	server := fixedKey(f, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	tok, err := SignTemporaryKeyResponse(server, TemporaryKeyResponse{KeyID: "11111111-2222-4333-8444-555555555555",
		ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", Challenge: "abc", PublicKey: base64.StdEncoding.EncodeToString(server.PublicKey().Bytes()),
		IssuedAtMs: 1, ExpiresAtMs: 2})
	if err != nil {
		f.Fatal(err)
	}
	addStringSeeds(f, tok)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := VerifyTemporaryKeyResponse(s, server.PublicKey())
		if err != nil {
			return
		}
		if _, err := ParsePublicKeyBase64(r.PublicKey); err != nil || !ValidUUID(r.KeyID) {
			t.Fatalf("accepted claims %+v", r)
		}
	})
}
