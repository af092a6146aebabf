package devicekey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
)

func validJWK(t testing.TB) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := k.PublicKey.Bytes()
	b, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:])})
	return b
}

func TestParseJWK(t *testing.T) {
	good := validJWK(t)
	var m map[string]string
	_ = json.Unmarshal(good, &m)
	mod := func(k, v string) []byte {
		c := map[string]string{}
		for a, b := range m {
			c[a] = b
		}
		c[k] = v
		b, _ := json.Marshal(c)
		return b
	}
	for name, in := range map[string][]byte{
		"empty": nil, "null": []byte("null"), "array": []byte("[]"), "rsa": mod("kty", "RSA"),
		"p384": mod("crv", "P-384"), "private": mod("d", "AAAA"), "alg": mod("alg", "RS256"),
		"short x": mod("x", "AAAA"), "padded x": mod("x", m["x"]+"="), "off curve": mod("y", m["x"]),
	} {
		if _, err := ParseJWK(in); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := ParseJWK(good); err != nil {
		t.Fatal(err)
	}
}

func TestParseCode(t *testing.T) {
	for _, bad := range []string{"", "ABCD", "ABCD-EFGH-IJKL-MNOP-QRS1", "ABCD-EFGH-IJKL-MNOP-QRSTU"} {
		if _, _, ok := parseCode(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	l, s, ok := parseCode("gs5t blsp-3dwf-m3yd-cx2x")
	if !ok || l != "GS5TBLSP" || s != "3DWFM3YDCX2X" {
		t.Fatalf("%q %q %v", l, s, ok)
	}
}

// FuzzParseJWK: untrusted device public keys never panic, and whatever is
// accepted is a P-256 point.
func FuzzParseJWK(f *testing.F) {
	good := validJWK(f)
	f.Add(good)
	for i := range good {
		c := append([]byte(nil), good...)
		c[i] ^= 1
		f.Add(c)
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		pub, err := ParseJWK(in)
		if err == nil && (pub == nil || pub.Curve != elliptic.P256()) {
			t.Fatal("accepted a key that is not P-256")
		}
	})
}

// FuzzParseCode: registration codes typed by users never panic and split
// into an 8-character lookup and a 12-character secret.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"GS5T-BLSP-3DWF-M3YD-CX2X", "gs5tblsp3dwfm3ydcx2x", "GS5T-BLSP-3DWF-M3YD-CX2", "----"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, s, ok := parseCode(in)
		if ok && (len(l) != 8 || len(s) != 12) {
			t.Fatalf("%q → %q %q", in, l, s)
		}
	})
}
