package mds_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/mds/mdstest"
)

const (
	certifiedAAGUID = "01020304-0506-0708-0102-030405060708"
	bypassAAGUID    = "11111111-2222-3333-4444-555555555555"
	uncertAAGUID    = "22222222-2222-3333-4444-555555555555"
	presenceAAGUID  = "33333333-2222-3333-4444-555555555555"
	pinAAGUID       = "44444444-2222-3333-4444-555555555555"
)

func TestLoadAndCheck(t *testing.T) {
	ca := mdstest.New(t)
	root, err := mds.RootFromPEM(ca.RootPEM())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	blob := ca.Blob(t, "2027-01-01",
		mdstest.Entry(certifiedAAGUID, "Phone platform authenticator", []string{"NOT_FIDO_CERTIFIED", "FIDO_CERTIFIED_L1"}, "fingerprint_internal", "faceprint_internal"),
		mdstest.Entry(bypassAAGUID, "Key with a UV bypass", []string{"USER_VERIFICATION_BYPASS", "FIDO_CERTIFIED_L1"}, "fingerprint_internal"),
		mdstest.Entry(uncertAAGUID, "Uncertified key", []string{"NOT_FIDO_CERTIFIED"}, "passcode_internal"),
		mdstest.Entry(presenceAAGUID, "Presence-only key", []string{"FIDO_CERTIFIED_L1"}, "presence_internal"),
		mdstest.Entry(pinAAGUID, "Key with a PIN or a fingerprint", []string{"FIDO_CERTIFIED_L2"}, "passcode_internal", "fingerprint_internal"),
	)

	t.Run("refused BLOBs", func(t *testing.T) {
		other := mdstest.New(t)
		otherRoot, _ := mds.RootFromPEM(other.RootPEM())
		corrupt := append([]byte(nil), blob...)
		corrupt[len(corrupt)/2] ^= 1
		for _, tc := range []struct {
			name string
			blob []byte
			root string
			now  time.Time
			want string
		}{
			{"another root", blob, otherRoot, now, "does not verify"},
			{"the FIDO production root", blob, func() string { r, _ := mds.RootFromPEM(nil); return r }(), now, "does not verify"},
			{"a corrupted BLOB", corrupt, root, now, "FIDO metadata BLOB"},
			{"not a JWT", []byte("hello"), root, now, "does not verify"},
			{"stale", blob, root, time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC), "stale"},
			{"an entry that does not parse", ca.Blob(t, "2027-01-01", mdstest.Entry("not-a-uuid", "x", []string{"FIDO_CERTIFIED"})), root, now, "entries had errors"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := mds.Load(tc.blob, tc.root, tc.now); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
			})
		}
	})

	a, err := mds.Load(blob, root, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 5 || a.Number() != 7 || a.NextUpdate().Format(time.DateOnly) != "2027-01-01" {
		t.Fatalf("loaded %d entries, no %d, next %s", a.Len(), a.Number(), a.NextUpdate())
	}
	for _, tc := range []struct {
		aaguid, method, err string
	}{
		{"99999999-2222-3333-4444-555555555555", "", "not in the FIDO metadata"},
		{"not a uuid", "", "not in the FIDO metadata"},
		{"00000000-0000-0000-0000-000000000000", "", "not in the FIDO metadata"},
		{bypassAAGUID, "", "USER_VERIFICATION_BYPASS"},
		{uncertAAGUID, "", "not FIDO certified"},
		{presenceAAGUID, "", "no user verification method"},
		{pinAAGUID, "pin", ""},
		{certifiedAAGUID, "fpt", ""},
		{strings.ToUpper(certifiedAAGUID), "fpt", ""},
	} {
		t.Run(tc.aaguid, func(t *testing.T) {
			m, err := a.Check(tc.aaguid)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || m.Method != tc.method || !strings.HasPrefix(m.Status, "FIDO_CERTIFIED") {
				t.Fatalf("model %+v, err %v", m, err)
			}
		})
	}
	if _, err := mds.RootFromPEM([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); err == nil {
		t.Fatal("a broken root PEM was accepted")
	}
}

// FuzzLoad: a BLOB file is read at start-up; whatever it holds, Load never
// panics, and only a BLOB signed under the configured root loads.
func FuzzLoad(f *testing.F) {
	ca := mdstest.New(f)
	root, _ := mds.RootFromPEM(ca.RootPEM())
	blob := ca.Blob(f, "2027-01-01", mdstest.Entry(certifiedAAGUID, "Phone", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal"))
	f.Add(blob)
	for i := 0; i < len(blob)*8; i += 97 {
		c := append([]byte(nil), blob...)
		c[i/8] ^= 1 << (i % 8)
		f.Add(c)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := mds.Load(b, root, now)
		if err != nil {
			return
		}
		// Whatever loads came from the signer: its payload is the seed's.
		if _, err := a.Check(certifiedAAGUID); err != nil || a.Len() != 1 || a.Number() != 7 {
			t.Fatalf("loaded a variant: %d entries, no %d, %v", a.Len(), a.Number(), err)
		}
	})
}
