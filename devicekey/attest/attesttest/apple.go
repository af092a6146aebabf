package attesttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-sca/signet/devicekey/attest"
)

// AppleKey describes a test App Attest attestation. The zero value passes VerifyAppAttest for AppID.
type AppleKey struct {
	AppID       string // "TEAMID.bundle.id"
	Counter     uint32 // default 0
	Development bool   // aaguid "appattestdevelop"
	WrongNonce  bool   // the certificate's nonce is over other data
}

// AppleAttestation makes an App Attest key and its attestation object over clientDataHash,
// issued by the CA's batch certificate. It returns the object, the key id and the App Attest key.
func (ca *CA) AppleAttestation(clientDataHash []byte, k AppleKey, now time.Time) ([]byte, []byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	point, _ := key.PublicKey.Bytes()
	kid := sha256.Sum256(point)
	rp := sha256.Sum256([]byte(k.AppID))
	aaguid := []byte("appattest\x00\x00\x00\x00\x00\x00\x00")
	if k.Development {
		aaguid = []byte("appattestdevelop")
	}
	cose, _ := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:]})
	ad := append([]byte(nil), rp[:]...)
	ad = append(ad, 0x41)
	ad = binary.BigEndian.AppendUint32(ad, k.Counter)
	ad = append(ad, aaguid...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(kid)))
	ad = append(ad, kid[:]...)
	ad = append(ad, cose...)
	nonce := sha256.Sum256(append(append([]byte(nil), ad...), clientDataHash...))
	if k.WrongNonce {
		nonce = sha256.Sum256([]byte("other"))
	}
	ext, err := asn1.Marshal(struct {
		Nonce []byte `asn1:"tag:1,explicit"`
	}{nonce[:]})
	if err != nil {
		return nil, nil, nil, err
	}
	t := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "App Attest test credential"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(0, 0, 3), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: attest.OIDAppleNonce, Value: ext}}}
	der, err := x509.CreateCertificate(rand.Reader, t, ca.Batch, &key.PublicKey, ca.BatchKey)
	if err != nil {
		return nil, nil, nil, err
	}
	obj, err := cbor.Marshal(map[string]any{"fmt": attest.FormatAppleAppAtt, "authData": ad,
		"attStmt": map[string]any{"x5c": [][]byte{der, ca.Batch.Raw}, "receipt": []byte("test receipt")}})
	return obj, kid[:], key, err
}

// AppleAssertion signs an App Attest assertion over clientDataHash with counter.
func AppleAssertion(key *ecdsa.PrivateKey, appID string, clientDataHash []byte, counter uint32) ([]byte, error) {
	rp := sha256.Sum256([]byte(appID))
	ad := append(append([]byte(nil), rp[:]...), 0x01)
	ad = binary.BigEndian.AppendUint32(ad, counter)
	nonce := sha256.Sum256(append(append([]byte(nil), ad...), clientDataHash...))
	h := sha256.Sum256(nonce[:])
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(map[string]any{"signature": sig, "authenticatorData": ad})
}
