package evidence

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"

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
		{"powerauth: signed request about another operation", func() txsign.Evidence {
			return txsign.Evidence{Kind: store.KindPowerAuth, Algorithm: "PowerAuth-3.3-HMAC", Signed: b64([]byte("POST&/operation/authorize&other")), Signature: "12345678-87654321"}
		}, Fail},
		{"passkey: valid assertion, challenge = digest ‖ 16 random bytes", func() txsign.Evidence {
			return assertion(append(dl[:], nonce...), "webauthn.get")
		}, Pass},
		{"passkey: valid assertion recorded before per-ceremony challenges (digest alone)", func() txsign.Evidence {
			return assertion(dl[:], "webauthn.get")
		}, Pass},
		{"powerauth: HMAC cannot be re-verified offline", func() txsign.Evidence {
			return txsign.Evidence{Kind: store.KindPowerAuth, Algorithm: "PowerAuth-3.3-HMAC",
				Signed: b64([]byte("POST&/operation/authorize&" + b.Operation.ID)), Signature: "12345678-87654321"}
		}, NotVerifiable},
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
