package attest_test

import (
	"testing"

	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
)

// FuzzParseKeyDescription: untrusted DER from the device's certificate. Seeds are valid
// KeyDescriptions and single-bit corruptions of one (STYLE.md).
func FuzzParseKeyDescription(f *testing.F) {
	sec := int64(0)
	for _, k := range []attesttest.AndroidKey{{Challenge: []byte("challenge")}, {UserAuthType: -1, AuthTimeout: &sec},
		{Software: true, Purposes: []int{}, Package: "x"}} {
		kd, err := attesttest.KeyDescription(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kd)
		for _, bit := range []int{0, 9, 8*len(kd)/2 + 3, 8*len(kd) - 1} {
			c := append([]byte(nil), kd...)
			c[bit/8] ^= 1 << (bit % 8)
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		kd, err := attest.ParseKeyDescription(der)
		if err != nil {
			return
		}
		if id := kd.SoftwareEnforced.AttestationApplicationID; id != nil {
			_, _ = attest.ParseApplicationID(id)
		}
	})
}

// FuzzVerifyAppAttest: untrusted CBOR from the app, seeded with valid objects and corruptions.
func FuzzVerifyAppAttest(f *testing.F) {
	ca, _ := attesttest.NewCA("apple", testNow)
	obj, _, key, err := ca.AppleAttestation([]byte("cdh"), attesttest.AppleKey{AppID: appID}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	as, _ := attesttest.AppleAssertion(key, appID, []byte("cdh"), 1)
	for _, s := range [][]byte{obj, as} {
		f.Add(s)
		for _, bit := range []int{0, 13, 8*len(s)/2 + 1, 8*len(s) - 1} {
			c := append([]byte(nil), s...)
			c[bit/8] ^= 1 << (bit % 8)
			f.Add(c)
		}
	}
	p := attest.ApplePolicy{Roots: []*attest.Certificate{ca.Root}, AppIDs: []string{appID}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = attest.VerifyAppAttest(t.Context(), b, make([]byte, 32), []byte("cdh"), p, testNow)
		_, _ = attest.VerifyAppAssertion(b, &key.PublicKey, appID, []byte("cdh"), 0)
	})
}
