package mds_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/mds"
)

// testCA is a root and a BLOB signing certificate under it, as the FIDO
// Alliance's MDS3 chain (root → signing leaf in x5c).
type testCA struct {
	rootDER, leafDER []byte
	leafKey          *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) testCA {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test MDS Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test MDS BLOB signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{rootDER: rootDER, leafDER: leafDER, leafKey: lk}
}

func (c testCA) rootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.rootDER})
}

// Entry is one MDS3 metadata BLOB payload entry (FIDO MDS3 §3.1.1), minimal.
func Entry(aaguid, description string, statuses []string, uv ...string) map[string]any {
	var reports []any
	for _, s := range statuses {
		reports = append(reports, map[string]any{"status": s, "effectiveDate": "2025-01-01"})
	}
	var details []any
	for _, m := range uv {
		details = append(details, []any{map[string]any{"userVerificationMethod": m}})
	}
	return map[string]any{"aaguid": aaguid, "timeOfLastStatusChange": "2025-01-01", "statusReports": reports,
		"metadataStatement": map[string]any{"aaguid": aaguid, "description": description, "protocolFamily": "fido2",
			"schema": 3, "userVerificationDetails": details}}
}

// Blob signs an MDS3 BLOB (a JWS, ES256, x5c = [signer, root]) with entries.
func (c testCA) Blob(t testing.TB, nextUpdate string, entries ...map[string]any) []byte {
	t.Helper()
	hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT",
		"x5c": []string{base64.StdEncoding.EncodeToString(c.leafDER), base64.StdEncoding.EncodeToString(c.rootDER)}})
	body, _ := json.Marshal(map[string]any{"legalHeader": "test", "no": 7, "nextUpdate": nextUpdate, "entries": entries})
	in := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, c.leafKey, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return []byte(in + "." + base64.RawURLEncoding.EncodeToString(sig))
}

const (
	certifiedAAGUID = "01020304-0506-0708-0102-030405060708"
	bypassAAGUID    = "11111111-2222-3333-4444-555555555555"
	uncertAAGUID    = "22222222-2222-3333-4444-555555555555"
	presenceAAGUID  = "33333333-2222-3333-4444-555555555555"
	pinAAGUID       = "44444444-2222-3333-4444-555555555555"
)

func TestLoadAndCheck(t *testing.T) {
	ca := newTestCA(t)
	root, err := mds.RootFromPEM(ca.rootPEM())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	blob := ca.Blob(t, "2027-01-01",
		Entry(certifiedAAGUID, "Phone platform authenticator", []string{"NOT_FIDO_CERTIFIED", "FIDO_CERTIFIED_L1"}, "fingerprint_internal", "faceprint_internal"),
		Entry(bypassAAGUID, "Key with a UV bypass", []string{"USER_VERIFICATION_BYPASS", "FIDO_CERTIFIED_L1"}, "fingerprint_internal"),
		Entry(uncertAAGUID, "Uncertified key", []string{"NOT_FIDO_CERTIFIED"}, "passcode_internal"),
		Entry(presenceAAGUID, "Presence-only key", []string{"FIDO_CERTIFIED_L1"}, "presence_internal"),
		Entry(pinAAGUID, "Key with a PIN or a fingerprint", []string{"FIDO_CERTIFIED_L2"}, "passcode_internal", "fingerprint_internal"),
	)

	t.Run("refused BLOBs", func(t *testing.T) {
		other := newTestCA(t)
		otherRoot, _ := mds.RootFromPEM(other.rootPEM())
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
			{"an entry that does not parse", ca.Blob(t, "2027-01-01", Entry("not-a-uuid", "x", []string{"FIDO_CERTIFIED"})), root, now, "entries had errors"},
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
	ca := newTestCA(f)
	root, _ := mds.RootFromPEM(ca.rootPEM())
	blob := ca.Blob(f, "2027-01-01", Entry(certifiedAAGUID, "Phone", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal"))
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
