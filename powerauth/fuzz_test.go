package powerauth

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for every parser of untrusted input. Seeds are valid inputs plus single-bit corruptions of
// each (one flipped bit per byte position). The properties: never panic, and whatever parses re-renders to
// an equivalent value.

func bitFlips(seed []byte) [][]byte {
	out := make([][]byte, 0, len(seed))
	for i := range seed {
		c := bytes.Clone(seed)
		c[i] ^= 1 << (i % 8)
		out = append(out, c)
	}
	return out
}

func addStringSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
		for _, c := range bitFlips([]byte(s)) {
			f.Add(string(c))
		}
	}
}

func fixedKey(t testing.TB, hexScalar string) *PrivateKey {
	k, err := ParsePrivateKey(mustHex(t, hexScalar))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func FuzzActivationCode(f *testing.F) {
	master := fixedKey(f, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	code := activationCodeFromRandom([10]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	sig, err := SignActivationCode(master, code)
	if err != nil {
		f.Fatal(err)
	}
	addStringSeeds(f, "AAAAA-AAAAA-AAAAA-AAAAA", "W65WE-3T7VI-7FBS2-A4OYA", "45AWJ-BVACS-SBWHS-ABANA",
		"w65we 3t7v1 7fbs2 a40ya", ActivationQRPayload(code, sig))
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ValidateActivationCode(s); err == nil {
			// A valid code is canonical: decoding and re-encoding gives the same text.
			b, derr := base32.StdEncoding.DecodeString(strings.ReplaceAll(string(c), "-", "") + "====")
			if derr != nil || len(b) != 12 {
				t.Fatalf("valid code %q does not decode: %v", s, derr)
			}
			if activationCodeFromRandom([10]byte(b[:10])) != c {
				t.Fatalf("valid code %q is not canonical", s)
			}
		}
		if c, err := ValidateActivationCode(CorrectActivationCode(s)); err == nil && CorrectActivationCode(string(c)) != string(c) {
			t.Fatalf("correction is not idempotent on %q", c)
		}
		_, _ = ParseActivationQRPayload(s, master.PublicKey())
	})
}

func FuzzAuthorizationHeader(f *testing.F) {
	valid := `PowerAuth pa_version="3.3", pa_activation_id="` + testActivationID + `", pa_application_key="` + testAppKey +
		`", pa_nonce="` + testNonce + `", pa_signature_type="possession", pa_signature="` + testSig31 + `"`
	addStringSeeds(f, valid, strings.ReplaceAll(valid, ", ", " "),
		`PowerAuth pa_signature=12345678-87654321 pa_signature_type=possession_knowledge pa_nonce=`+testNonce+
			` pa_application_key=`+testAppKey+` pa_activation_id=`+testActivationID+` pa_version=3.0`)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAuthorizationHeader(s)
		if err != nil {
			return
		}
		again, err := ParseAuthorizationHeader(h.HeaderValue())
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", h.HeaderValue(), err)
		}
		if again.HeaderValue() != h.HeaderValue() {
			t.Fatalf("render is not stable")
		}
		_, _ = ParseEncryptionHeader(s)
	})
}

func FuzzTokenHeader(f *testing.F) {
	secret := TokenSecret{1, 2, 3}
	nonce, _ := base64OfLength(testNonce, 16)
	d, _ := ComputeTokenDigest(secret, nonce, 1749762293560, Version33)
	h := TokenHeader{TokenID: testActivationID, Digest: d, Nonce: nonce, TimestampMs: 1749762293560, Version: Version33}
	addStringSeeds(f, h.HeaderValue(), strings.ReplaceAll(h.HeaderValue(), ", ", " "))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseTokenHeader(s)
		if err != nil {
			return
		}
		again, err := ParseTokenHeader(h.HeaderValue())
		if err != nil || again.HeaderValue() != h.HeaderValue() {
			t.Fatalf("rendered %q does not parse back: %v", h.HeaderValue(), err)
		}
		_ = VerifyTokenDigest(secret, h)
	})
}

func FuzzEnvelope(f *testing.F) {
	serverKey := fixedKey(f, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	eph := fixedKey(f, "0fedcba987654321fedcba987654321fedcba987654321fedcba987654321f")
	configs := []EciesConfig{}
	for _, scope := range []EciesScope{ScopeApplication, ScopeActivation} {
		for _, v := range []Version{Version32, Version33} {
			c := EciesConfig{Version: v, Scope: scope, SharedInfo1: SharedInfo1ActivationGeneric,
				ApplicationKey: testAppKey, ApplicationSecret: "JGhFgPxequ0geUtZ4PkMzw==",
				ActivationID: testActivationID, TransportKey: TransportKey{9}}
			if v == Version33 {
				c.TemporaryKeyID = "61376bfb-9988-423b-93d7-9678f1915965"
			}
			configs = append(configs, c)
		}
	}
	var sessions []*ClientSession
	for i, c := range configs {
		env, sess, err := c.sealRequest(serverKey.PublicKey(), []byte(`{"requestObject":{}}`), eph, i%2 == 0,
			[]byte("0123456789abcdef"), 1749762293560)
		if err != nil {
			f.Fatal(err)
		}
		sessions = append(sessions, sess)
		j, _ := json.Marshal(env)
		f.Add(j)
		for _, c := range bitFlips(j) {
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		for i, c := range configs {
			c.TemporaryKeyID = ""
			if plain, sess, err := c.OpenRequest(serverKey, env); err == nil {
				if string(plain) != `{"requestObject":{}}` {
					t.Fatalf("forged request decrypted to %q", plain)
				}
				resp, err := sess.SealResponse(plain, time.UnixMilli(1749762293600))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := sessions[i].OpenResponse(resp); err != nil {
					t.Fatalf("the response to an authentic request does not open: %v", err)
				}
			}
			_, _ = sessions[i].OpenResponse(env)
		}
	})
}

func FuzzOperationData(f *testing.F) {
	addStringSeeds(f, "A1*A100CZK*ICZ2730300000001165254011*D20180425",
		"A1*A1492.50EUR*ICZ2730300000001165254011,AIRACZPP***Nnote for recipient",
		`A0*TRate 1EUR \* 25\\49\nCZK*R/VS123456/SS/KS*Xfuture`, "A2")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseOperationData(s)
		if err != nil {
			return
		}
		out, err := d.Encode()
		if err != nil || out != s {
			t.Fatalf("%q re-encoded to %q, %v", s, out, err)
		}
	})
}

func FuzzOfflinePayload(f *testing.F) {
	server := fixedKey(f, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
	p := testOfflinePayload()
	qr, err := BuildOfflinePayload(p, server)
	if err != nil {
		f.Fatal(err)
	}
	p.Extra = []string{"X"}
	p.KeyType = OfflineKeyMaster
	qr2, err := BuildOfflinePayload(p, server)
	if err != nil {
		f.Fatal(err)
	}
	addStringSeeds(f, qr, qr2)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseOfflinePayload(s)
		if err == nil {
			signed, err := p.signedPart()
			if err != nil || !strings.HasPrefix(s, signed) {
				t.Fatalf("parsed payload does not re-render its signed part: %v", err)
			}
		}
		_, _ = VerifyOfflinePayload(s, server.PublicKey(), server.PublicKey())
	})
}

// FuzzVerifySignature feeds untrusted pa_signature values (3.1+ base64 and 3.0/offline decimal) to the
// verifier. Seeds: valid possession_knowledge signatures in both formats and their single-bit
// corruptions. Properties: never panic; only the exact signature verifies; ErrFactorMismatch only when
// the possession component is the right one (a wrong PIN), never for a corrupted possession component.
func FuzzVerifySignature(f *testing.F) {
	keys := testSignatureKeys()
	var ctr CounterData
	data := SignatureData("POST", "/operation/authorize", []byte("nonce-nonce-1234"), []byte("{}"), "YXBwc2VjcmV0YXBwc2VjcmV0")
	for _, format := range []SignatureFormat{FormatBase64, FormatDecimal} {
		sig, err := ComputeSignature(data, keys, SignaturePossessionKnowledge, ctr, format)
		if err != nil {
			f.Fatal(err)
		}
		addStringSeeds(f, sig)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		for _, format := range []SignatureFormat{FormatBase64, FormatDecimal} {
			want, _ := ComputeSignature(data, keys, SignaturePossessionKnowledge, ctr, format)
			_, err := VerifySignature(SignatureVerification{Data: data, Signature: sig, Type: SignaturePossessionKnowledge,
				Format: format, Keys: keys, CounterData: ctr, Lookahead: 1})
			if (err == nil) != (sig == want) {
				t.Fatalf("format %d: %q verified %v", format, sig, err == nil)
			}
			wantFirst, _ := firstComponent(want, format, 2)
			gotFirst, ok := firstComponent(sig, format, 2)
			if errors.Is(err, ErrFactorMismatch) && (!ok || !bytes.Equal(wantFirst, gotFirst)) {
				t.Fatalf("format %d: %q is a wrong PIN but its possession component is not the right one", format, sig)
			}
		}
	})
}
