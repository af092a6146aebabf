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
