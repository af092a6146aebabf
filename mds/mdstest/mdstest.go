// Package mdstest signs FIDO MDS3 BLOBs under a test root, for tests.
package mdstest

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
	"testing"
	"time"
)

// CA is a root and a BLOB signing certificate under it, as the FIDO
// Alliance's MDS3 chain (root → signing leaf in x5c).
type CA struct {
	rootDER, leafDER []byte
	leafKey          *ecdsa.PrivateKey
}

func New(t testing.TB) CA {
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
	return CA{rootDER: rootDER, leafDER: leafDER, leafKey: lk}
}

func (c CA) RootPEM() []byte {
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
func (c CA) Blob(t testing.TB, nextUpdate string, entries ...map[string]any) []byte {
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
