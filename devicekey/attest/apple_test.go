package attest_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
)

const appID = "ABCDE12345.com.example.bank"

func TestVerifyAppAttest(t *testing.T) {
	ca, _ := attesttest.NewCA("apple", testNow)
	other, _ := attesttest.NewCA("other", testNow)
	cdh := sha256.Sum256([]byte("challenge and device key"))
	policy := attest.ApplePolicy{Roots: []*attest.Certificate{ca.Root}, AppIDs: []string{appID}}
	tests := []struct {
		name   string
		ca     *attesttest.CA
		key    attesttest.AppleKey
		cdh    []byte
		keyID  func([]byte) []byte
		policy func(*attest.ApplePolicy)
		want   string
	}{
		{name: "unknown root", ca: other, want: attest.ReasonUnknownRoot},
		{name: "other client data (challenge)", cdh: []byte("another registration"), want: attest.ReasonChallenge},
		{name: "nonce over other data", key: attesttest.AppleKey{WrongNonce: true}, want: attest.ReasonChallenge},
		{name: "another app", key: attesttest.AppleKey{AppID: "ABCDE12345.com.evil"}, want: attest.ReasonApp},
		{name: "counter not zero", key: attesttest.AppleKey{Counter: 1}, want: attest.ReasonCounter},
		{name: "development environment", key: attesttest.AppleKey{Development: true}, want: attest.ReasonAuthData},
		{name: "wrong key id", keyID: func(k []byte) []byte { c := append([]byte(nil), k...); c[0] ^= 1; return c }, want: attest.ReasonKeyMismatch},
		{name: "accepted: development allowed", key: attesttest.AppleKey{Development: true}, policy: func(p *attest.ApplePolicy) { p.AllowDevelopment = true }},
		{name: "accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ca
			if tc.ca != nil {
				c = tc.ca
			}
			k := tc.key
			if k.AppID == "" {
				k.AppID = appID
			}
			obj, kid, key, err := c.AppleAttestation(cdh[:], k, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if tc.keyID != nil {
				kid = tc.keyID(kid)
			}
			given := cdh[:]
			if tc.cdh != nil {
				given = tc.cdh
			}
			p := policy
			if tc.policy != nil {
				tc.policy(&p)
			}
			res, err := attest.VerifyAppAttest(context.Background(), obj, kid, given, p, testNow)
			if got := attest.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
			if tc.want != "" {
				return
			}
			a := res.Assurance
			if !res.PublicKey.Equal(&key.PublicKey) || a.AppID != appID || a.UserVerification != attest.UVNotProven || a.HardwareLevel != "" {
				t.Fatalf("%+v", a)
			}
			if amr := a.AMR(); len(amr) != 1 || amr[0] != "hwk" {
				t.Fatalf("amr %v: App Attest proves no user verification", amr)
			}
		})
	}
}

func TestVerifyAppAssertion(t *testing.T) {
	ca, _ := attesttest.NewCA("apple", testNow)
	cdh := sha256.Sum256([]byte("registration"))
	_, _, key, _ := ca.AppleAttestation(cdh[:], attesttest.AppleKey{AppID: appID}, testNow)
	dl := sha256.Sum256([]byte("dl"))
	for _, tc := range []struct {
		name    string
		app     string
		signed  []byte
		counter uint32
		want    string
	}{
		{name: "replayed counter", app: appID, signed: dl[:], counter: 7, want: attest.ReasonCounter},
		{name: "older counter", app: appID, signed: dl[:], counter: 3, want: attest.ReasonCounter},
		{name: "other data", app: appID, signed: []byte("other"), counter: 8, want: attest.ReasonSignature},
		{name: "other app", app: "X.y", signed: dl[:], counter: 8, want: attest.ReasonApp},
		{name: "accepted", app: appID, signed: dl[:], counter: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := attesttest.AppleAssertion(key, tc.app, tc.signed, tc.counter)
			if err != nil {
				t.Fatal(err)
			}
			n, err := attest.VerifyAppAssertion(as, &key.PublicKey, appID, dl[:], 7)
			if got := attest.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
			if tc.want == "" && n != 8 {
				t.Fatalf("counter %d", n)
			}
		})
	}
}
