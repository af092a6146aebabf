package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/devicekey/attest/attesttest"
)

func TestAttestationPolicy(t *testing.T) {
	t.Run("every problem reported", func(t *testing.T) {
		c, err := Load([]string{
			"SIGNET_ANDROID_SIGNING_CERT_DIGESTS=zz",
			"SIGNET_ANDROID_MIN_PATCH_LEVEL=2025",
			"SIGNET_ANDROID_REVOCATION_UNREACHABLE=maybe",
			"SIGNET_ANDROID_REVOCATION_URL=ftp://x",
			"SIGNET_ANDROID_ATTESTATION_ROOTS=/nonexistent.pem",
			"SIGNET_APPLE_APP_IDS=com.example.bank",
		})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		for _, want := range []string{"SIGNET_ANDROID_SIGNING_CERT_DIGESTS", "SIGNET_ANDROID_MIN_PATCH_LEVEL", "SIGNET_ANDROID_REVOCATION_UNREACHABLE",
			"SIGNET_ANDROID_REVOCATION_URL", "SIGNET_ANDROID_ATTESTATION_ROOTS", "SIGNET_APPLE_APP_IDS"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s not reported: %v", want, err)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c, _ := Load(nil)
		p, err := c.AttestationPolicy()
		if err != nil {
			t.Fatal(err)
		}
		// Google's roots (nil Roots), the status list consulted, an unreachable list accepted.
		if p.Required || p.Android.Roots != nil || p.Android.Revocations == nil ||
			p.Android.Revocations.URL != "https://android.googleapis.com/attestation/status" || p.Android.RefuseUnreachableRevocations {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("set", func(t *testing.T) {
		ca, _ := attesttest.NewCA("t", time.Now())
		roots := filepath.Join(t.TempDir(), "roots.pem")
		_ = os.WriteFile(roots, ca.RootPEM(), 0o600)
		c, _ := Load([]string{"SIGNET_DEVICE_ATTESTATION_REQUIRED=true", "SIGNET_ANDROID_ATTESTATION_ROOTS=" + roots,
			"SIGNET_ANDROID_SIGNING_CERT_DIGESTS=" + strings.Repeat("AB:", 31) + "AB", "SIGNET_ANDROID_MIN_PATCH_LEVEL=202501",
			"SIGNET_ANDROID_REVOCATION_URL=off", "SIGNET_ANDROID_REVOCATION_UNREACHABLE=refuse", "SIGNET_APPLE_APP_IDS=ABCDE12345.com.example.bank"})
		p, err := c.AttestationPolicy()
		if err != nil {
			t.Fatal(err)
		}
		if !p.Required || len(p.Android.Roots) != 1 || !p.Android.Roots[0].Equal(ca.Root) || len(p.Android.SigningCertDigests) != 1 ||
			p.Android.SigningCertDigests[0][0] != 0xAB || p.Android.MinOSPatchLevel != 202501 || p.Android.Revocations != nil ||
			!p.Android.RefuseUnreachableRevocations || p.Apple.AppIDs[0] != "ABCDE12345.com.example.bank" {
			t.Fatalf("%+v", p)
		}
	})
}
