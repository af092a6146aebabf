package attest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
)

var testNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func statusServer(t *testing.T, entries map[string]attest.RevocationEntry) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"entries": entries})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyAndroid(t *testing.T) {
	ca, err := attesttest.NewCA("signet", testNow)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := attesttest.NewCA("other", testNow)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	challenge := []byte("0123456789abcdef0123456789abcdef")
	revokedSerial := big.NewInt(0x5eed)
	status := statusServer(t, map[string]attest.RevocationEntry{"5eed": {Status: "REVOKED", Reason: "KEY_COMPROMISE"}})
	policy := func() attest.AndroidPolicy {
		return attest.AndroidPolicy{Roots: []*attest.Certificate{ca.Root}, PackageNames: []string{attesttest.DefaultPackage},
			SigningCertDigests: [][]byte{attesttest.DefaultSigningDigest}, MinOSPatchLevel: 202501,
			Revocations: &attest.RevocationList{URL: status.URL, Now: func() time.Time { return testNow }}}
	}
	sec := int64(30)
	// forged: the attested device key itself signs a leaf for another key (an attested key is not a CA).
	forged := func() [][]byte {
		chain, _ := ca.AndroidChain(&key.PublicKey, attesttest.AndroidKey{Challenge: challenge}, testNow)
		inner := &attesttest.CA{Root: ca.Root, RootKey: ca.RootKey, Batch: mustParse(t, chain[0]), BatchKey: key}
		k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c2, err := inner.AndroidChain(&k2.PublicKey, attesttest.AndroidKey{Challenge: challenge}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return append([][]byte{c2[0]}, chain...)
	}
	tests := []struct {
		name   string
		key    attesttest.AndroidKey
		ca     *attesttest.CA
		chain  func() [][]byte
		policy func(*attest.AndroidPolicy)
		want   string
	}{
		{name: "wrong challenge", key: attesttest.AndroidKey{Challenge: []byte("another registration's challenge")}, want: attest.ReasonChallenge},
		{name: "software security level", key: attesttest.AndroidKey{Software: true}, want: attest.ReasonSecurityLevel},
		{name: "TEE when StrongBox required", policy: func(p *attest.AndroidPolicy) { p.RequireStrongBox = true }, want: attest.ReasonSecurityLevel},
		{name: "no user authentication", key: attesttest.AndroidKey{UserAuthType: -1}, want: attest.ReasonUserAuth},
		{name: "user auth type none", key: attesttest.AndroidKey{UserAuthType: 4}, want: attest.ReasonUserAuth},
		{name: "auth timeout", key: attesttest.AndroidKey{AuthTimeout: &sec}, want: attest.ReasonAuthTimeout},
		{name: "imported key", key: attesttest.AndroidKey{Origin: 2}, want: attest.ReasonOrigin},
		{name: "no sign purpose", key: attesttest.AndroidKey{Purposes: []int{0, 1}}, want: attest.ReasonPurpose},
		{name: "P-384 curve", key: attesttest.AndroidKey{Curve: 2}, want: attest.ReasonAlgorithm},
		{name: "wrong package", key: attesttest.AndroidKey{Package: "com.evil.bank"}, want: attest.ReasonApp},
		{name: "wrong signing certificate", key: attesttest.AndroidKey{SigningDigest: make([]byte, 32)}, want: attest.ReasonApp},
		{name: "unverified boot", key: attesttest.AndroidKey{BootState: attest.BootUnverified}, want: attest.ReasonBoot},
		{name: "unlocked bootloader", key: attesttest.AndroidKey{Unlocked: true}, want: attest.ReasonBoot},
		{name: "old patch level", key: attesttest.AndroidKey{OSPatchLevel: 202212}, want: attest.ReasonPatchLevel},
		{name: "expired leaf", key: attesttest.AndroidKey{NotBefore: testNow.AddDate(-2, 0, 0), NotAfter: testNow.AddDate(-1, 0, 0)}, want: attest.ReasonExpired},
		{name: "revoked leaf", key: attesttest.AndroidKey{Serial: revokedSerial}, want: attest.ReasonRevoked},
		{name: "unknown root", ca: other, want: attest.ReasonUnknownRoot},
		{name: "attested key signs a forged leaf", chain: forged, want: attest.ReasonChain},
		{name: "revocation list unreachable, policy refuses", policy: func(p *attest.AndroidPolicy) {
			p.Revocations = &attest.RevocationList{URL: "http://127.0.0.1:1/status"}
			p.RefuseUnreachableRevocations = true
		}, want: attest.ReasonRevocation},
		{name: "accepted"},
		{name: "accepted: revocation list unreachable, default policy", policy: func(p *attest.AndroidPolicy) {
			p.Revocations = &attest.RevocationList{URL: "http://127.0.0.1:1/status"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.key
			if k.Challenge == nil {
				k.Challenge = challenge
			}
			c := ca
			if tc.ca != nil {
				c = tc.ca
			}
			var chain [][]byte
			if tc.chain != nil {
				chain = tc.chain()
			} else if chain, err = c.AndroidChain(&key.PublicKey, k, testNow); err != nil {
				t.Fatal(err)
			}
			p := policy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			res, err := attest.VerifyAndroid(context.Background(), chain, challenge, p, testNow)
			if got := attest.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
			if tc.want != "" {
				return
			}
			a := res.Assurance
			if !res.PublicKey.Equal(&key.PublicKey) || a.Format != attest.FormatAndroidKey || a.HardwareLevel != "tee" ||
				a.UserVerification != attest.UVBiometric || !a.AppVerified || a.AppID != attesttest.DefaultPackage || a.OSPatchLevel != 202510 {
				t.Fatalf("result %+v", a)
			}
			if !slices.Equal(a.AMR(), []string{"hwk", "fpt"}) {
				t.Fatalf("amr %v", a.AMR())
			}
			unreachable := slices.ContainsFunc(a.Notes, func(n string) bool { return len(n) > 30 && n[:30] == "revocation list unreachable, a" })
			if unreachable != (tc.policy != nil) {
				t.Fatalf("notes %q", a.Notes)
			}
		})
	}
}

func mustParse(t *testing.T, der []byte) *attest.Certificate {
	c, err := attest.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAndroidAMR(t *testing.T) {
	for _, tc := range []struct {
		uat  int64
		uv   string
		want []string
	}{
		{attest.AuthFingerprint, attest.UVBiometric, []string{"hwk", "fpt"}},
		{attest.AuthPassword, attest.UVDeviceCredential, []string{"hwk", "pin"}},
		{attest.AuthPassword | attest.AuthFingerprint, attest.UVEither, []string{"hwk", "user"}},
	} {
		t.Run(fmt.Sprint(tc.uat), func(t *testing.T) {
			ca, _ := attesttest.NewCA("signet", testNow)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			chain, _ := ca.AndroidChain(&key.PublicKey, attesttest.AndroidKey{Challenge: []byte("c"), UserAuthType: tc.uat}, testNow)
			res, err := attest.VerifyAndroid(context.Background(), chain, []byte("c"), attest.AndroidPolicy{Roots: []*attest.Certificate{ca.Root}}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if res.Assurance.UserVerification != tc.uv || !slices.Equal(res.Assurance.AMR(), tc.want) || res.Assurance.AppVerified {
				t.Fatalf("%+v amr %v", res.Assurance, res.Assurance.AMR())
			}
		})
	}
	if got := (attest.Assurance{}).AMR(); !slices.Equal(got, []string{"hwk"}) {
		t.Fatalf("unattested amr %v", got)
	}
}

func TestEmbeddedRoots(t *testing.T) {
	if n := len(attest.GoogleRoots()); n != 5 {
		t.Fatalf("%d Google roots", n)
	}
	r := attest.AppleAppAttestRoot()
	if len(r) != 1 || r[0].Subject.CommonName != "Apple App Attestation Root CA" {
		t.Fatalf("apple root %v", r)
	}
}

// TestInspectAndroid: the offline re-check of a stored chain (evidence bundles): signatures,
// anchor and what the KeyDescription shows, without dates or challenge.
func TestInspectAndroid(t *testing.T) {
	ca, _ := attesttest.NewCA("signet", testNow)
	other, _ := attesttest.NewCA("other", testNow)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain, _ := ca.AndroidChain(&key.PublicKey, attesttest.AndroidKey{Challenge: []byte("c"), UserAuthType: attest.AuthPassword,
		NotBefore: testNow.AddDate(-3, 0, 0), NotAfter: testNow.AddDate(-2, 0, 0)}, testNow)
	in, err := attest.InspectAndroid(chain, []*attest.Certificate{ca.Root})
	if err != nil || !in.Anchored || !in.PublicKey.Equal(&key.PublicKey) || in.UserVerification != attest.UVDeviceCredential {
		t.Fatalf("%+v %v", in, err)
	}
	if in, err := attest.InspectAndroid(chain, []*attest.Certificate{other.Root}); err != nil || in.Anchored {
		t.Fatalf("another root: %+v %v", in, err)
	}
	sec := int64(5)
	timed, _ := ca.AndroidChain(&key.PublicKey, attesttest.AndroidKey{AuthTimeout: &sec}, testNow)
	if in, _ := attest.InspectAndroid(timed, nil); in.UserVerification != attest.UVNotProven {
		t.Fatalf("a key with an auth timeout shows %q", in.UserVerification)
	}
	spliced := [][]byte{chain[0], other.Batch.Raw, other.Root.Raw}
	if _, err := attest.InspectAndroid(spliced, []*attest.Certificate{other.Root}); attest.ReasonOf(err) != attest.ReasonChain {
		t.Fatalf("a leaf under another batch: %v", err)
	}
}
