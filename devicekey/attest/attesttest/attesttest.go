// Package attesttest makes test attestations: an Android Key Attestation chain or an Apple
// App Attest object issued by a test root, for tests, the Go device SDK and `signet device`
// against a server that trusts that root. Nothing here is trusted by a default configuration.
package attesttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/signet-sca/signet/devicekey/attest"
)

// CA is a test root and an intermediate ("batch") key under it.
type CA struct {
	Root        *x509.Certificate
	RootKey     *ecdsa.PrivateKey
	Batch       *x509.Certificate
	BatchKey    *ecdsa.PrivateKey
	BatchSerial *big.Int
}

// NewCA makes a root and a batch intermediate valid from now-1h for ten years.
func NewCA(name string, now time.Time) (*CA, error) {
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rt := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " test root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rder)
	bk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	bt := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " test batch"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	bder, err := x509.CreateCertificate(rand.Reader, bt, root, &bk.PublicKey, rk)
	if err != nil {
		return nil, err
	}
	batch, _ := x509.ParseCertificate(bder)
	return &CA{Root: root, RootKey: rk, Batch: batch, BatchKey: bk, BatchSerial: batch.SerialNumber}, nil
}

// PEM encodes the CA (certificates and keys) for a file `signet device --test-attestation-ca` reads.
func (ca *CA) PEM() []byte {
	var out []byte
	rk, _ := x509.MarshalECPrivateKey(ca.RootKey)
	bk, _ := x509.MarshalECPrivateKey(ca.BatchKey)
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})...)
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: rk})...)
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Batch.Raw})...)
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: bk})...)
	return out
}

// RootPEM is the root certificate alone: what the server is configured to trust.
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// LoadCA reads what PEM wrote.
func LoadCA(b []byte) (*CA, error) {
	var certs []*x509.Certificate
	var keys []*ecdsa.PrivateKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	if len(certs) != 2 || len(keys) != 2 {
		return nil, errors.New("attesttest: a test CA file holds a root and a batch certificate, each followed by its EC key")
	}
	return &CA{Root: certs[0], RootKey: keys[0], Batch: certs[1], BatchKey: keys[1], BatchSerial: certs[1].SerialNumber}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

// AndroidKey describes the key a test chain attests. The zero value (after defaults) is a
// key that passes the default policy: TEE, GENERATED, SIGN, EC P-256, biometric per use,
// verified boot on a locked device, package "com.example.bank".
type AndroidKey struct {
	Challenge     []byte
	SecurityLevel attest.SecurityLevel // default TEE
	Software      bool                 // security level Software (overrides SecurityLevel)
	Origin        int                  // default GENERATED
	Purposes      []int                // default [SIGN]
	Curve         int                  // default P-256
	UserAuthType  int64                // default FINGERPRINT; -1: no user authentication (noAuthRequired)
	AuthTimeout   *int64               // set: authTimeout present
	Package       string               // default com.example.bank
	SigningDigest []byte               // default 32 bytes of 0xAB
	BootState     attest.VerifiedBootState
	Unlocked      bool
	OSPatchLevel  int // default 202510
	NotBefore     time.Time
	NotAfter      time.Time // default NotBefore + 1 year
	Serial        *big.Int
}

// DefaultPackage and DefaultSigningDigest are what an AndroidKey attests by default.
var (
	DefaultPackage       = "com.example.bank"
	DefaultSigningDigest = func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = 0xAB
		}
		return b
	}()
)

// AndroidChain returns the DER chain (leaf, batch, root) attesting pub as k describes.
func (ca *CA) AndroidChain(pub *ecdsa.PublicKey, k AndroidKey, now time.Time) ([][]byte, error) {
	ext, err := KeyDescription(k)
	if err != nil {
		return nil, err
	}
	nb, na := k.NotBefore, k.NotAfter
	if nb.IsZero() {
		nb = now.Add(-time.Minute)
	}
	if na.IsZero() {
		na = nb.AddDate(1, 0, 0)
	}
	s := k.Serial
	if s == nil {
		s = serial()
	}
	lt := &x509.Certificate{SerialNumber: s, Subject: pkix.Name{CommonName: "Android Keystore Key"}, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: attest.OIDKeyDescription, Value: ext}}}
	der, err := x509.CreateCertificate(rand.Reader, lt, ca.Batch, pub, ca.BatchKey)
	if err != nil {
		return nil, err
	}
	return [][]byte{der, ca.Batch.Raw, ca.Root.Raw}, nil
}

func explicit(tag int, v any) asn1.RawValue {
	inner, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: inner}
}

// KeyDescription encodes the attestation extension (AOSP schema version 300 field layout).
func KeyDescription(k AndroidKey) ([]byte, error) {
	level := k.SecurityLevel
	if level == 0 {
		level = attest.LevelTEE
	}
	if k.Software {
		level = attest.LevelSoftware
	}
	purposes := k.Purposes
	if purposes == nil {
		purposes = []int{attest.PurposeSign}
	}
	curve := k.Curve
	if curve == 0 {
		curve = attest.CurveP256
	}
	uat := k.UserAuthType
	if uat == 0 {
		uat = attest.AuthFingerprint
	}
	pkg := k.Package
	if pkg == "" {
		pkg = DefaultPackage
	}
	dig := k.SigningDigest
	if dig == nil {
		dig = DefaultSigningDigest
	}
	patch := k.OSPatchLevel
	if patch == 0 {
		patch = 202510
	}
	type pkgInfo struct {
		Name    []byte
		Version int64
	}
	appID, err := asn1.Marshal(struct {
		Packages []pkgInfo `asn1:"set"`
		Digests  [][]byte  `asn1:"set"`
	}{[]pkgInfo{{[]byte(pkg), 42}}, [][]byte{dig}})
	if err != nil {
		return nil, err
	}
	var hw []asn1.RawValue
	hw = append(hw, explicit(1, asn1MarshalSet(purposes)), explicit(2, attest.AlgorithmEC), explicit(3, 256), explicit(10, curve))
	if uat < 0 {
		hw = append(hw, explicit(503, asn1.NullRawValue))
	} else {
		hw = append(hw, explicit(504, uat))
	}
	if k.AuthTimeout != nil {
		hw = append(hw, explicit(505, *k.AuthTimeout))
	}
	hw = append(hw, explicit(702, k.Origin))
	rot := struct {
		Key    []byte
		Locked bool
		State  asn1.Enumerated
		Hash   []byte
	}{make([]byte, 32), !k.Unlocked, asn1.Enumerated(k.BootState), make([]byte, 32)}
	hw = append(hw, explicit(704, rot), explicit(705, 150000), explicit(706, patch))
	sw := []asn1.RawValue{explicit(701, 1_760_000_000_000), explicit(709, appID)}
	seq := func(vs []asn1.RawValue) asn1.RawValue {
		var b []byte
		for _, v := range vs {
			e, err := asn1.Marshal(v)
			if err != nil {
				panic(err)
			}
			b = append(b, e...)
		}
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: b}
	}
	return asn1.Marshal(struct {
		Version       int
		Level         asn1.Enumerated
		KMVersion     int
		KMLevel       asn1.Enumerated
		Challenge     []byte
		UniqueID      []byte
		Software      asn1.RawValue
		TrustedEnvmnt asn1.RawValue
	}{300, asn1.Enumerated(level), 300, asn1.Enumerated(level), k.Challenge, []byte{}, seq(sw), seq(hw)})
}

// asn1MarshalSet wraps ints so they encode as a SET OF INTEGER.
func asn1MarshalSet(v []int) any {
	b, err := asn1.MarshalWithParams(v, "set")
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return asn1.RawValue{FullBytes: b}
}
