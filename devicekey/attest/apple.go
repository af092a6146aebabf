package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// OIDAppleNonce is the App Attest credential certificate's nonce extension.
var OIDAppleNonce = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 2}

// App Attest AAGUIDs: production, and the development environment.
var (
	aaguidProduction  = []byte("appattest\x00\x00\x00\x00\x00\x00\x00")
	aaguidDevelopment = []byte("appattestdevelop")
)

// ApplePolicy is what the bank requires of an App Attest attestation.
type ApplePolicy struct {
	// Roots are the trust anchors; nil means the Apple App Attestation Root CA.
	Roots []*x509.Certificate
	// AppIDs are "TEAMID.bundle.id" values the key may belong to (required).
	AppIDs []string
	// AllowDevelopment accepts the development environment's AAGUID ("appattestdevelop").
	AllowDevelopment bool
}

// AppleResult is a verified App Attest attestation.
type AppleResult struct {
	KeyID     []byte
	PublicKey *ecdsa.PublicKey // the App Attest key (not the device key)
	Receipt   []byte
	Assurance Assurance
}

// NoteAppAttest is recorded with every App Attest assurance.
const NoteAppAttest = "App Attest proves a genuine instance of the app on a genuine Apple device; it does not attest the device key's residence in the Secure Enclave nor its access control (biometryCurrentSet, userPresence): user verification is not proven"

var cborDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxNestedLevels: 8, MaxArrayElements: 16, MaxMapPairs: 16,
		IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

type appleAttestation struct {
	Fmt     string `cbor:"fmt"`
	AttStmt struct {
		X5C     [][]byte `cbor:"x5c"`
		Receipt []byte   `cbor:"receipt"`
	} `cbor:"attStmt"`
	AuthData []byte `cbor:"authData"`
}

// authData is the WebAuthn authenticator data (WebAuthn L3 §6.1) App Attest reuses.
type authData struct {
	RPIDHash []byte
	Flags    byte
	Counter  uint32
	AAGUID   []byte
	CredID   []byte
}

func parseAuthData(b []byte, attested bool) (authData, error) {
	if len(b) < 37 {
		return authData{}, errors.New("authenticator data shorter than 37 bytes")
	}
	a := authData{RPIDHash: b[:32], Flags: b[32], Counter: binary.BigEndian.Uint32(b[33:37])}
	if !attested {
		return a, nil
	}
	if len(b) < 55 {
		return authData{}, errors.New("no attested credential data")
	}
	a.AAGUID = b[37:53]
	n := int(binary.BigEndian.Uint16(b[53:55]))
	if len(b) < 55+n {
		return authData{}, errors.New("credential id runs past the data")
	}
	a.CredID = b[55 : 55+n]
	return a, nil
}

// VerifyAppAttest verifies an App Attest attestation object for keyID (the key identifier
// DCAppAttestService returned) over clientDataHash, following Apple's "Validating apps that
// connect to your server", steps 1 to 9 ("Verify the attestation").
func VerifyAppAttest(ctx context.Context, object, keyID, clientDataHash []byte, p ApplePolicy, now time.Time) (AppleResult, error) {
	var att appleAttestation
	if err := cborDec.Unmarshal(object, &att); err != nil {
		return AppleResult{}, refuse(ReasonMalformed, "attestation object: %v", err)
	}
	if att.Fmt != FormatAppleAppAtt {
		return AppleResult{}, refuse(ReasonMalformed, "fmt %q, want %s", att.Fmt, FormatAppleAppAtt)
	}
	if len(att.AttStmt.X5C) < 2 || len(att.AttStmt.X5C) > maxChain {
		return AppleResult{}, refuse(ReasonMalformed, "x5c must hold the credential and intermediate certificates")
	}
	chain := make([]*x509.Certificate, len(att.AttStmt.X5C))
	for i, der := range att.AttStmt.X5C {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return AppleResult{}, refuse(ReasonMalformed, "certificate %d: %v", i, err)
		}
		chain[i] = c
	}
	// Step 1: the chain to Apple's App Attestation root.
	roots := p.Roots
	if roots == nil {
		roots = AppleAppAttestRoot()
	}
	if _, err := verifyChain(ctx, chain, roots, nil, false, now); err != nil {
		return AppleResult{}, err
	}
	cred := chain[0]
	// Steps 2-4: nonce = SHA256(authData ‖ clientDataHash) is the credential certificate's extension.
	nonce := sha256.Sum256(append(append([]byte(nil), att.AuthData...), clientDataHash...))
	var ext []byte
	for _, e := range cred.Extensions {
		if e.Id.Equal(OIDAppleNonce) {
			ext = e.Value
		}
	}
	var n struct {
		Nonce []byte `asn1:"tag:1,explicit"`
	}
	if ext == nil {
		return AppleResult{}, refuse(ReasonMalformed, "the credential certificate has no nonce extension (%s)", OIDAppleNonce)
	}
	if rest, err := asn1.Unmarshal(ext, &n); err != nil || len(rest) != 0 {
		return AppleResult{}, refuse(ReasonMalformed, "nonce extension is malformed")
	}
	if subtle.ConstantTimeCompare(n.Nonce, nonce[:]) != 1 {
		return AppleResult{}, refuse(ReasonChallenge, "the nonce is not SHA256(authData ‖ clientDataHash) of this registration's challenge")
	}
	// Step 5: the key identifier is SHA256 of the credential certificate's public key (X9.63 point).
	pub, ok := cred.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return AppleResult{}, refuse(ReasonAlgorithm, "the App Attest key is not P-256")
	}
	point, _ := pub.Bytes()
	kid := sha256.Sum256(point)
	if subtle.ConstantTimeCompare(kid[:], keyID) != 1 {
		return AppleResult{}, refuse(ReasonKeyMismatch, "key_id is not the attested key's identifier")
	}
	ad, err := parseAuthData(att.AuthData, true)
	if err != nil {
		return AppleResult{}, refuse(ReasonAuthData, "%v", err)
	}
	// Step 6: the RP ID hash is SHA256 of the App ID (team id "." bundle id).
	appID := ""
	for _, id := range p.AppIDs {
		h := sha256.Sum256([]byte(id))
		if subtle.ConstantTimeCompare(h[:], ad.RPIDHash) == 1 {
			appID = id
		}
	}
	if appID == "" {
		return AppleResult{}, refuse(ReasonApp, "the RP ID hash is not SHA256 of a configured App ID")
	}
	// Step 7: the counter of a new key is 0.
	if ad.Counter != 0 {
		return AppleResult{}, refuse(ReasonCounter, "counter %d, a new key's is 0", ad.Counter)
	}
	// Step 8: the environment.
	if !bytes.Equal(ad.AAGUID, aaguidProduction) && !(p.AllowDevelopment && bytes.Equal(ad.AAGUID, aaguidDevelopment)) {
		return AppleResult{}, refuse(ReasonAuthData, "aaguid %q is not the production App Attest environment", ad.AAGUID)
	}
	// Step 9: the credential id is the key identifier.
	if !bytes.Equal(ad.CredID, kid[:]) {
		return AppleResult{}, refuse(ReasonKeyMismatch, "the credential id is not the key identifier")
	}
	return AppleResult{KeyID: kid[:], PublicKey: pub, Receipt: att.AttStmt.Receipt, Assurance: Assurance{
		Format: FormatAppleAppAtt, UserVerification: UVNotProven, AppID: appID, AppVerified: true,
		Notes: []string{NoteAppAttest}, AttestedAt: now.UTC()}}, nil
}

// VerifyAppAssertion verifies an App Attest assertion (CBOR {signature, authenticatorData})
// over clientDataHash with the attested App Attest key, following Apple's "Verify the
// assertion": nonce = SHA256(authenticatorData ‖ clientDataHash), an ECDSA P-256 signature
// over it, the RP ID hash of appID, and a counter above lastCounter. It returns the new counter.
func VerifyAppAssertion(assertion []byte, pub *ecdsa.PublicKey, appID string, clientDataHash []byte, lastCounter uint32) (uint32, error) {
	var a struct {
		Signature         []byte `cbor:"signature"`
		AuthenticatorData []byte `cbor:"authenticatorData"`
	}
	if err := cborDec.Unmarshal(assertion, &a); err != nil {
		return 0, refuse(ReasonMalformed, "assertion: %v", err)
	}
	ad, err := parseAuthData(a.AuthenticatorData, false)
	if err != nil {
		return 0, refuse(ReasonAuthData, "%v", err)
	}
	nonce := sha256.Sum256(append(append([]byte(nil), a.AuthenticatorData...), clientDataHash...))
	h := sha256.Sum256(nonce[:])
	if !ecdsa.VerifyASN1(pub, h[:], a.Signature) {
		return 0, refuse(ReasonSignature, "the assertion's signature does not verify")
	}
	want := sha256.Sum256([]byte(appID))
	if !bytes.Equal(ad.RPIDHash, want[:]) {
		return 0, refuse(ReasonApp, "the RP ID hash is not the attested App ID's")
	}
	if ad.Counter <= lastCounter {
		return 0, refuse(ReasonCounter, "counter %d not above %d: a replayed assertion or a cloned app instance", ad.Counter, lastCounter)
	}
	return ad.Counter, nil
}

// InspectAppAttest re-checks an App Attest attestation object offline (see Inspection): the
// x5c signatures, the anchor, and that keyID names the attested key and is the credential id.
func InspectAppAttest(object, keyID []byte, roots []*x509.Certificate) (Inspection, error) {
	var att appleAttestation
	if err := cborDec.Unmarshal(object, &att); err != nil || att.Fmt != FormatAppleAppAtt {
		return Inspection{}, refuse(ReasonMalformed, "not an apple-appattest attestation object")
	}
	chain, err := parseChain(att.AttStmt.X5C)
	if err != nil {
		return Inspection{}, err
	}
	if err := checkLinks(chain); err != nil {
		return Inspection{}, err
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return Inspection{}, refuse(ReasonAlgorithm, "the App Attest key is not P-256")
	}
	point, _ := pub.Bytes()
	kid := sha256.Sum256(point)
	ad, err := parseAuthData(att.AuthData, true)
	if err != nil {
		return Inspection{}, refuse(ReasonAuthData, "%v", err)
	}
	if !bytes.Equal(kid[:], keyID) || !bytes.Equal(ad.CredID, kid[:]) {
		return Inspection{}, refuse(ReasonKeyMismatch, "the key id is not the attested key's")
	}
	return Inspection{PublicKey: pub, Anchored: anchorOf(chain[len(chain)-1], roots) != nil, Root: fingerprint(chain[len(chain)-1]),
		UserVerification: UVNotProven}, nil
}
