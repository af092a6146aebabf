package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// TestPasskeyAndPowerAuthFactors checks the factor paths a device-key approval does not reach,
// with assertions made here: a WebAuthn assertion over digest ‖ 16 random bytes (and over the digest
// alone, as recorded before issue 13 item 7), and a PowerAuth request.
func TestPasskeyAndPowerAuthFactors(t *testing.T) {
	dl := sha256.Sum256([]byte("operation"))
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	cose, _ := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:]})
	assertion := func(challenge []byte, typ string) txsign.Evidence {
		authData := make([]byte, 37)
		authData[32] = 0x05 // UP, UV
		cdj, _ := json.Marshal(map[string]string{"type": typ, "challenge": b64(challenge), "origin": "https://bank.example"})
		h := sha256.Sum256(cdj)
		signed := append(append([]byte(nil), authData...), h[:]...)
		d := sha256.Sum256(signed)
		sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
		return txsign.Evidence{Kind: store.KindPasskey, Algorithm: "ES256", Signed: b64(signed), Signature: b64(sig),
			PublicKey: b64(cose), Extra: map[string]any{"authenticator_data": b64(authData), "client_data_json": b64(cdj)}}
	}
	b := &Bundle{Operation: Operation{ID: "3f1b9a4e-8f3c-4a57-9d0e-1d2c3b4a5f60", Status: "APPROVED"}}
	tests := []struct {
		name string
		ev   func() txsign.Evidence
		want Result
	}{
		{"passkey: challenge is not the digest", func() txsign.Evidence { return assertion([]byte("other"), "webauthn.get") }, Fail},
		{"passkey: 48-byte challenge whose digest part differs", func() txsign.Evidence {
			other := sha256.Sum256([]byte("another operation"))
			return assertion(append(other[:], nonce...), "webauthn.get")
		}, Fail},
		{"passkey: digest followed by a random part of the wrong length", func() txsign.Evidence {
			return assertion(append(dl[:], nonce[:8]...), "webauthn.get")
		}, Fail},
		{"passkey: digest followed by 16 bytes, then more", func() txsign.Evidence {
			return assertion(append(append(dl[:], nonce...), 0), "webauthn.get")
		}, Fail},
		{"passkey: a registration, not an assertion", func() txsign.Evidence { return assertion(dl[:], "webauthn.create") }, Fail},
		{"passkey: signature over other bytes", func() txsign.Evidence {
			ev := assertion(dl[:], "webauthn.get")
			other := assertion(dl[:], "webauthn.get")
			ev.Signature = other.Signature // signed over different client data
			ev.Extra["client_data_json"] = b64([]byte(`{"type":"webauthn.get","challenge":"` + b64(dl[:]) + `","origin":"https://evil.example"}`))
			return ev
		}, Fail},
		{"passkey: valid assertion, challenge = digest ‖ 16 random bytes", func() txsign.Evidence {
			return assertion(append(dl[:], nonce...), "webauthn.get")
		}, Pass},
		{"passkey: valid assertion recorded before per-ceremony challenges (digest alone)", func() txsign.Evidence {
			return assertion(dl[:], "webauthn.get")
		}, Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Report
			checkFactor(&r, b, tt.ev(), true, dl)
			if len(r.Checks) != 1 || r.Checks[0].Result != tt.want {
				t.Fatalf("got %+v, want %s", r.Checks, tt.want)
			}
		})
	}
}

// TestPowerAuthBaseStringNamesTheOperation: the operation id sits Base64-encoded in the body of the signature base
// string (PowerAuth 3.x); the check decodes it for online approve and reject and for offline approval, and refuses
// a request about another operation or other data. Bundles of real approvals are verified end to end in
// server/pa_evidence_test.go.
func TestPowerAuthBaseStringNamesTheOperation(t *testing.T) {
	const op, data = "6f0c1a52-3d1e-4c1b-9d0e-1c2b3a4d5e6f", "A1*A10.00EUR*IDE89370400440532013000*TACME"
	nonce := bytes.Repeat([]byte{9}, 16)
	base := func(uri, body string) []byte {
		return []byte(powerauth.SignatureBaseString("POST", uri, nonce, []byte(body)))
	}
	extra := map[string]any{"operation_data": data}
	for _, tc := range []struct {
		name   string
		signed []byte
		want   string // "" = names the operation
	}{
		{"not a base string", []byte("POST&/operation/authorize&" + op), "not a PowerAuth signature base string"},
		{"another operation", base("/operation/authorize", `{"requestObject":{"id":"other","data":"`+data+`"}}`), "names operation \"other\""},
		{"other data", base("/operation/authorize", `{"requestObject":{"id":"`+op+`","data":"A1*A99.00EUR"}}`), "data differs"},
		{"offline, another operation", base("/operation/authorize/offline", "other&"+data), "another operation"},
		{"another endpoint", base("/pa/signature/validate", `{"requestObject":{"id":"`+op+`"}}`), "not an operation approval"},
		{"must pass: approve", base("/operation/authorize", `{"requestObject":{"id":"`+op+`","data":"`+data+`"}}`), ""},
		{"must pass: reject", base("/operation/cancel", `{"requestObject":{"id":"`+op+`","reason":"UNKNOWN"}}`), ""},
		{"must pass: offline", base("/operation/authorize/offline", op+"&"+data), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := powerAuthNamesOperation(tc.signed, op, extra)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
