package powerauth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePrivateKey(t *testing.T) {
	k, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	raw := k.Bytes()
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
	}{
		{"empty", nil, true},
		{"34 bytes", append([]byte{0, 0}, raw...), true},
		{"33 bytes without sign byte", append([]byte{1}, raw...), true},
		{"zero scalar", make([]byte, 32), true},
		{"order n", mustHex(t, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"), true},
		{"raw 32", raw, false},
		{"java sign byte 33", append([]byte{0}, raw...), false},
		{"java short 31", mustHex(t, "01"+strings.Repeat("ab", 30)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("want ErrInvalidKey, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimLeft(tc.in, "\x00")
			if !bytes.Equal(bytes.TrimLeft(got.Bytes(), "\x00"), want) || len(got.Bytes()) != 32 {
				t.Fatalf("scalar changed: %x", got.Bytes())
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	k, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	offCurve := bytes.Clone(pub.Bytes())
	offCurve[64] ^= 1
	badPrefix := bytes.Clone(pub.CompressedBytes())
	badPrefix[0] = 5
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
	}{
		{"empty", nil, true},
		{"off curve", offCurve, true},
		{"bad compressed prefix", badPrefix, true},
		{"x out of field", append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...), true},
		{"truncated", pub.Bytes()[:64], true},
		{"uncompressed", pub.Bytes(), false},
		{"compressed", pub.CompressedBytes(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKey(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("want ErrInvalidKey, got %v", err)
				}
				return
			}
			if err != nil || !got.Equal(pub) {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	priv, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	secret := [16]byte{0xAB, 0xCD, 0xEF, 0x12}
	values := map[string]any{
		"SecretKey":       SecretKey(secret),
		"MasterSecretKey": MasterSecretKey(secret),
		"SignatureKey":    SignatureKey(secret),
		"TransportKey":    TransportKey(secret),
		"VaultKey":        VaultKey(secret),
		"TokenSecret":     TokenSecret(secret),
		"CounterData":     CounterData(secret),
		"EnvelopeKey":     EnvelopeKey{0xAB, 0xCD, 0xEF, 0x12},
		"PrivateKey":      priv,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			out := fmt.Sprintf(verb, v)
			if out != redacted {
				t.Errorf("%s %s printed %q", name, verb, out)
			}
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "k", v)
		if !strings.Contains(buf.String(), "k="+redacted) {
			t.Errorf("%s logged %q", name, buf.String())
		}
	}
	// String-typed secrets and the ECIES sessions (which hold envelope keys) only redact in logs.
	server, client := &ServerSession{}, &ClientSession{}
	for name, v := range map[string]any{"ApplicationSecret": ApplicationSecret("c2VjcmV0"), "ActivationCode": ActivationCode("AAAAA-AAAAA-AAAAA-AAAAA"),
		"ServerSession": server, "ClientSession": client} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "k", v)
		if !strings.Contains(buf.String(), `"k":"`+redacted+`"`) {
			t.Errorf("%s logged %q", name, buf.String())
		}
	}
}

func TestMasterSecretBothSides(t *testing.T) {
	dev, err1 := GeneratePrivateKey()
	srv, err2 := GeneratePrivateKey()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	a, err1 := dev.MasterSecret(srv.PublicKey())
	b, err2 := srv.MasterSecret(dev.PublicKey())
	if err1 != nil || err2 != nil || !a.Equal(b) {
		t.Fatal("device and server master secrets differ")
	}
	if DeriveKeys(a) != DeriveKeys(b) {
		t.Fatal("derived key sets differ")
	}
}

func TestKDFIndexes(t *testing.T) {
	// The index is the big-endian low half of the AES block: KDF with index 1 differs from index 256.
	var k SecretKey
	if KDF(k, 1) == KDF(k, 256) || KDF(k, KDFIndexTransport) == KDF(k, KDFIndexVault) {
		t.Fatal("indexes collide")
	}
	if KDFIndexPossession != 1 || KDFIndexKnowledge != 2 || KDFIndexBiometry != 3 || KDFIndexTransport != 1000 ||
		KDFIndexVault != 2000 || KDFIndexStatusIV != 3000 || KDFIndexCounterHash != 4000 {
		t.Fatal("KDF index constants changed")
	}
}

func TestX963KDFKnownAnswer(t *testing.T) {
	// Expected values computed with pyca/cryptography X963KDF(SHA256) and its ECDH, an independent
	// implementation.
	z := mustHex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	info := mustHex(t, "332e332f70612f61637469766174696f6e026465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283")
	want := mustHex(t, "ed4acb0b0c8deb985cc93b617a528b8e52032bdff507e4eccf097a7dde2b49f0933cc3cc2fa09ee2b5685d91801faa91")
	if got := x963KDF(z, info, 48); !bytes.Equal(got, want) {
		t.Fatalf("x963KDF = %x", got)
	}
	srv, err := ParsePrivateKey(mustHex(t, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	eph := mustHex(t, "039670835f2c93659928c275a6f8ff9d007244f9ed3e5583843206b8fa37618e4f")
	k, err := DeriveEnvelopeKey(srv, eph, []byte("3.2/pa/generic/application"))
	if err != nil {
		t.Fatal(err)
	}
	wantK := mustHex(t, "5d2b826f1019f7faaa464d3c9e08a08686c668d15d0f2f864fd487017272e23d1f5ac0c13af8b0064ccd125c207f9681")
	if !bytes.Equal(k[:], wantK) {
		t.Fatalf("envelope key = %x", k[:])
	}
}
