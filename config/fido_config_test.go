package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/mds/mdstest"
)

// TestFIDOMetadataConfig: the passkey-only policy needs a BLOB; a BLOB that
// does not verify under the configured root, or a missing file, is reported by
// Validate; a valid one loads.
func TestFIDOMetadataConfig(t *testing.T) {
	dir := t.TempDir()
	ca, other := mdstest.New(t), mdstest.New(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blob := write("blob.jwt", ca.Blob(t, time.Now().AddDate(0, 1, 0).Format(time.DateOnly),
		mdstest.Entry("01020304-0506-0708-0102-030405060708", "Phone", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal")))
	root, otherRoot := write("root.pem", ca.RootPEM()), write("other.pem", other.RootPEM())

	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"types without a BLOB", []string{"SIGNET_WEB_PASSKEY_ONLY_TYPES=login"}, "SIGNET_WEB_PASSKEY_ONLY_TYPES needs SIGNET_FIDO_MDS_BLOB"},
		{"a root without a BLOB", []string{"SIGNET_FIDO_MDS_ROOT=" + root}, "SIGNET_FIDO_MDS_ROOT is set without"},
		{"a missing BLOB", []string{"SIGNET_FIDO_MDS_BLOB=" + filepath.Join(dir, "none.jwt")}, "SIGNET_FIDO_MDS_BLOB: open"},
		{"another root", []string{"SIGNET_FIDO_MDS_BLOB=" + blob, "SIGNET_FIDO_MDS_ROOT=" + otherRoot}, "does not verify"},
		{"the FIDO root (default) does not sign a test BLOB", []string{"SIGNET_FIDO_MDS_BLOB=" + blob}, "does not verify"},
		{"a root that is not PEM", []string{"SIGNET_FIDO_MDS_BLOB=" + blob, "SIGNET_FIDO_MDS_ROOT=" + blob}, "not a PEM CERTIFICATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	c, _ := Load([]string{"SIGNET_WEB_PASSKEY_ONLY_TYPES=login,beneficiary_change", "SIGNET_FIDO_MDS_BLOB=" + blob, "SIGNET_FIDO_MDS_ROOT=" + root})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := c.FIDOMetadata(time.Now())
	if err != nil || a.Len() != 1 || len(c.PasskeyOnlyTypes) != 2 {
		t.Fatalf("loaded %v, %v, types %v", a, err, c.PasskeyOnlyTypes)
	}
	if c, _ := Load(nil); c.PasskeyOnlyTypes != nil {
		t.Fatalf("default passkey-only types %v", c.PasskeyOnlyTypes)
	}
}
