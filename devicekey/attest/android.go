package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"
)

//go:embed roots/google_hardware_attestation_roots.pem
var googleRootsPEM []byte

//go:embed roots/apple_app_attestation_root_ca.pem
var appleRootPEM []byte

// GoogleRoots returns Google's Hardware Attestation roots (roots/google_hardware_attestation_roots.pem names
// their source and fingerprints).
func GoogleRoots() []*x509.Certificate { return mustPEM(googleRootsPEM) }

// AppleAppAttestRoot returns the Apple App Attestation Root CA.
func AppleAppAttestRoot() []*x509.Certificate { return mustPEM(appleRootPEM) }

func mustPEM(b []byte) []*x509.Certificate {
	certs, err := ParsePEM(b)
	if err != nil {
		panic(err)
	}
	return certs
}

// ParsePEM parses every CERTIFICATE block of a PEM file (trust anchors from configuration).
func ParsePEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("attest: trust anchor: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("attest: no CERTIFICATE in PEM")
	}
	return out, nil
}

// AndroidPolicy is what the bank requires of an Android Key Attestation.
type AndroidPolicy struct {
	// Roots are the trust anchors; nil means GoogleRoots.
	Roots []*x509.Certificate
	// PackageNames and SigningCertDigests (SHA-256 of the app's signing certificates) that may
	// hold a device key; when both are empty the application id is recorded, not enforced.
	PackageNames       []string
	SigningCertDigests [][]byte
	// BootStates allowed (default: verified only); AllowUnlocked accepts an unlocked bootloader.
	BootStates    []VerifiedBootState
	AllowUnlocked bool
	// MinOSPatchLevel (YYYYMM, e.g. 202501); 0 does not check it.
	MinOSPatchLevel int
	// RequireStrongBox refuses TEE keys.
	RequireStrongBox bool
	// Revocations is the status list (nil: not consulted, recorded as a note).
	Revocations *RevocationList
	// RefuseUnreachableRevocations refuses an attestation when no status list can be had;
	// by default it is accepted and the credential records a note.
	RefuseUnreachableRevocations bool
}

// AndroidResult is a verified Android attestation.
type AndroidResult struct {
	Description KeyDescription
	Application ApplicationID
	PublicKey   *ecdsa.PublicKey
	Assurance   Assurance
}

// maxChain bounds the chain: real chains have 3 to 5 certificates.
const maxChain = 10

// VerifyAndroid verifies an Android Key Attestation chain (leaf first, DER) for a device key
// that must have been generated with challenge as its attestationChallenge.
//
// It follows https://developer.android.com/privacy-and-security/security-key-attestation
// ("Verify hardware-backed key pairs with key attestation"): each certificate signed by the
// next, within its validity, the last one a trust anchor or signed by one, none on the
// status list; then the KeyDescription extension (AOSP attestation schema, version 400 /
// KeyMint 4; earlier versions share the fields used here) of the leaf only.
func VerifyAndroid(ctx context.Context, chainDER [][]byte, challenge []byte, p AndroidPolicy, now time.Time) (AndroidResult, error) {
	if len(chainDER) < 2 || len(chainDER) > maxChain {
		return AndroidResult{}, refuse(ReasonMalformed, "the chain must hold 2 to %d certificates, leaf first", maxChain)
	}
	chain := make([]*x509.Certificate, len(chainDER))
	for i, der := range chainDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return AndroidResult{}, refuse(ReasonMalformed, "certificate %d: %v", i, err)
		}
		chain[i] = c
	}
	notes, err := verifyChain(ctx, chain, p.roots(), p.Revocations, p.RefuseUnreachableRevocations, now)
	if err != nil {
		return AndroidResult{}, err
	}
	leaf := chain[0]
	var ext []byte
	for _, e := range leaf.Extensions {
		if e.Id.Equal(OIDKeyDescription) {
			if ext != nil {
				return AndroidResult{}, refuse(ReasonMalformed, "two KeyDescription extensions")
			}
			ext = e.Value
		}
	}
	if ext == nil {
		return AndroidResult{}, refuse(ReasonMalformed, "the leaf has no KeyDescription extension (%s)", OIDKeyDescription)
	}
	// Only the leaf may carry it: a certificate with a KeyDescription is an attested key, not a CA,
	// and a chain where one signs the leaf is an attested key vouching for a forged one.
	for i, c := range chain[1:] {
		for _, e := range c.Extensions {
			if e.Id.Equal(OIDKeyDescription) {
				return AndroidResult{}, refuse(ReasonChain, "certificate %d above the leaf carries a KeyDescription", i+1)
			}
		}
	}
	kd, err := ParseKeyDescription(ext)
	if err != nil {
		return AndroidResult{}, refuse(ReasonMalformed, "%v", err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return AndroidResult{}, refuse(ReasonAlgorithm, "the attested key is not EC P-256")
	}
	res := AndroidResult{Description: kd, PublicKey: pub}
	if err := p.checkKey(kd, challenge); err != nil {
		return AndroidResult{}, err
	}
	hw := kd.HardwareEnforced
	a := Assurance{Format: FormatAndroidKey, HardwareLevel: kd.AttestationSecurityLevel.String(), Notes: notes, AttestedAt: now.UTC()}
	switch *hw.UserAuthType & (AuthPassword | AuthFingerprint) {
	case AuthFingerprint:
		a.UserVerification = UVBiometric
	case AuthPassword:
		a.UserVerification = UVDeviceCredential
	default:
		a.UserVerification = UVEither
	}
	rot := hw.RootOfTrust
	a.VerifiedBoot, a.DeviceLocked = rot.VerifiedBootState.String(), rot.DeviceLocked
	if hw.OSPatchLevel != nil {
		a.OSPatchLevel = *hw.OSPatchLevel
	}
	// attestationApplicationId is set by Android's keystore service, outside the TEE: it is in
	// softwareEnforced (AOSP schema), trustworthy because the TEE signed the whole KeyDescription
	// and the OS passed verified boot (checked above).
	appDER := kd.SoftwareEnforced.AttestationApplicationID
	if appDER == nil {
		appDER = hw.AttestationApplicationID
	}
	if appDER == nil {
		return AndroidResult{}, refuse(ReasonApp, "no attestationApplicationId")
	}
	app, err := ParseApplicationID(appDER)
	if err != nil {
		return AndroidResult{}, refuse(ReasonMalformed, "%v", err)
	}
	res.Application = app
	var names []string
	for _, pk := range app.Packages {
		names = append(names, pk.Name)
	}
	sort.Strings(names)
	a.AppID = strings.Join(names, ",")
	if len(p.PackageNames) > 0 || len(p.SigningCertDigests) > 0 {
		if err := p.checkApp(app); err != nil {
			return AndroidResult{}, err
		}
		a.AppVerified = true
	} else {
		a.Notes = append(a.Notes, "application id not checked: no package names or signing certificate digests configured")
	}
	res.Assurance = a
	return res, nil
}

func (p AndroidPolicy) roots() []*x509.Certificate {
	if p.Roots != nil {
		return p.Roots
	}
	return GoogleRoots()
}

// checkKey applies the key policy to the KeyDescription. Key properties must be in
// hardwareEnforced: only the secure hardware's list binds the key.
func (p AndroidPolicy) checkKey(kd KeyDescription, challenge []byte) error {
	if len(challenge) == 0 || subtle.ConstantTimeCompare(kd.AttestationChallenge, challenge) != 1 {
		return refuse(ReasonChallenge, "attestationChallenge is not this registration's challenge")
	}
	for _, l := range []SecurityLevel{kd.AttestationSecurityLevel, kd.KeyMintSecurityLevel} {
		if l != LevelTEE && l != LevelStrongBox {
			return refuse(ReasonSecurityLevel, "security level %s: the key must live in a TEE or StrongBox", l)
		}
		if p.RequireStrongBox && l != LevelStrongBox {
			return refuse(ReasonSecurityLevel, "security level %s: the bank requires StrongBox", l)
		}
	}
	hw := kd.HardwareEnforced
	switch {
	case hw.Origin == nil || *hw.Origin != OriginGenerated:
		return refuse(ReasonOrigin, "origin must be GENERATED in the secure hardware (an imported key may have copies)")
	case !slices.Contains(hw.Purpose, PurposeSign):
		return refuse(ReasonPurpose, "purpose must include SIGN")
	case hw.Algorithm == nil || *hw.Algorithm != AlgorithmEC:
		return refuse(ReasonAlgorithm, "algorithm must be EC")
	case hw.ECCurve != nil && *hw.ECCurve != CurveP256, hw.ECCurve == nil && (hw.KeySize == nil || *hw.KeySize != 256):
		return refuse(ReasonAlgorithm, "curve must be P-256")
	case hw.NoAuthRequired || hw.UserAuthType == nil || *hw.UserAuthType&(AuthPassword|AuthFingerprint) == 0:
		return refuse(ReasonUserAuth, "the key must require user authentication (biometric and/or device credential)")
	case hw.AuthTimeout != nil:
		// No authTimeout: authentication per operation, each signature needs the user
		// (KeyMint Tag.AUTH_TIMEOUT; setUserAuthenticationParameters(0, ...)).
		return refuse(ReasonAuthTimeout, "the key accepts one authentication for %d seconds of signatures; each must need the user", *hw.AuthTimeout)
	case hw.RootOfTrust == nil:
		return refuse(ReasonBoot, "no hardware-enforced rootOfTrust")
	}
	states := p.BootStates
	if len(states) == 0 {
		states = []VerifiedBootState{BootVerified}
	}
	rot := hw.RootOfTrust
	if !slices.Contains(states, rot.VerifiedBootState) {
		return refuse(ReasonBoot, "verified boot state %s is not allowed", rot.VerifiedBootState)
	}
	if !rot.DeviceLocked && !p.AllowUnlocked {
		return refuse(ReasonBoot, "the bootloader is unlocked")
	}
	if p.MinOSPatchLevel > 0 {
		if hw.OSPatchLevel == nil || *hw.OSPatchLevel < p.MinOSPatchLevel {
			got := "absent"
			if hw.OSPatchLevel != nil {
				got = fmt.Sprint(*hw.OSPatchLevel)
			}
			return refuse(ReasonPatchLevel, "OS patch level %s is older than %d", got, p.MinOSPatchLevel)
		}
	}
	return nil
}

func (p AndroidPolicy) checkApp(app ApplicationID) error {
	if len(app.Packages) == 0 {
		return refuse(ReasonApp, "no package in attestationApplicationId")
	}
	if len(p.PackageNames) > 0 {
		for _, pk := range app.Packages {
			if !slices.Contains(p.PackageNames, pk.Name) {
				return refuse(ReasonApp, "package %q is not an allowed application", pk.Name)
			}
		}
	}
	if len(p.SigningCertDigests) > 0 {
		if len(app.SignatureDigests) == 0 {
			return refuse(ReasonApp, "no signing certificate digest in attestationApplicationId")
		}
		for _, d := range app.SignatureDigests {
			if !slices.ContainsFunc(p.SigningCertDigests, func(w []byte) bool { return bytes.Equal(w, d) }) {
				return refuse(ReasonApp, "signing certificate %s is not allowed", hex.EncodeToString(d))
			}
		}
	}
	return nil
}

// checkLinks checks that each certificate is issued and signed by the next.
func checkLinks(chain []*x509.Certificate) error {
	for i, c := range chain[:len(chain)-1] {
		parent := chain[i+1]
		if !bytes.Equal(c.RawIssuer, parent.RawSubject) {
			return refuse(ReasonChain, "certificate %d is not issued by certificate %d", i, i+1)
		}
		if err := parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
			return refuse(ReasonChain, "certificate %d signature: %v", i, err)
		}
	}
	return nil
}

// anchorOf returns the root the chain's last certificate is, or is signed by; nil if none.
func anchorOf(last *x509.Certificate, roots []*x509.Certificate) *x509.Certificate {
	for _, r := range roots {
		if bytes.Equal(last.Raw, r.Raw) {
			return r
		}
		if bytes.Equal(last.RawIssuer, r.RawSubject) && r.CheckSignature(last.SignatureAlgorithm, last.RawTBSCertificate, last.Signature) == nil {
			return r
		}
	}
	return nil
}

// verifyChain checks signatures, names and validity up to a trust anchor, then revocation.
func verifyChain(ctx context.Context, chain, roots []*x509.Certificate, rl *RevocationList, refuseUnreachable bool, now time.Time) ([]string, error) {
	for i, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, refuse(ReasonExpired, "certificate %d is valid from %s to %s", i, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		}
	}
	if err := checkLinks(chain); err != nil {
		return nil, err
	}
	last := chain[len(chain)-1]
	r := anchorOf(last, roots)
	if r == nil {
		return nil, refuse(ReasonUnknownRoot, "the chain does not end at a configured trust anchor (root %s)", fingerprint(last))
	}
	if now.Before(r.NotBefore) || now.After(r.NotAfter) {
		return nil, refuse(ReasonExpired, "the trust anchor is valid from %s to %s", r.NotBefore.Format(time.RFC3339), r.NotAfter.Format(time.RFC3339))
	}
	if rl == nil {
		return []string{"revocation list not configured"}, nil
	}
	serials := make([]*big.Int, len(chain))
	for i, c := range chain {
		serials[i] = c.SerialNumber
	}
	found, stale, err := rl.Lookup(ctx, serials)
	if err != nil {
		if refuseUnreachable {
			return nil, refuse(ReasonRevocation, "the revocation list is unreachable and the policy refuses without it: %v", err)
		}
		return []string{"revocation list unreachable, accepted by policy: " + err.Error()}, nil
	}
	for serial, e := range found {
		// Both REVOKED and SUSPENDED keys are refused (Google: "do not trust").
		return nil, refuse(ReasonRevoked, "certificate serial %s is %s (%s)", serial, e.Status, e.Reason)
	}
	if stale {
		return []string{"revocation list could not be refreshed; a cached copy was consulted"}, nil
	}
	return nil, nil
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:8])
}

// Certificate is an X.509 certificate (a trust anchor or chain member).
type Certificate = x509.Certificate

// ParseCertificate parses one DER certificate.
func ParseCertificate(der []byte) (*Certificate, error) { return x509.ParseCertificate(der) }

// Inspection is what an attestation shows when re-checked offline, long after registration:
// the chain's signatures and the attested key, not the validity periods, revocation or the
// challenge (which hold at registration and are attested by its audit record).
type Inspection struct {
	PublicKey *ecdsa.PublicKey // the attested key (Android: the device key; Apple: the App Attest key)
	Anchored  bool             // the chain ends at one of the roots given
	Root      string           // SHA-256 fingerprint (hex, first 8 bytes) of the chain's last certificate
	// Android: the KeyDescription and the user verification its hardware-enforced list proves.
	Description      *KeyDescription
	UserVerification string
}

// InspectAndroid re-checks an Android Key Attestation chain offline (see Inspection).
func InspectAndroid(chainDER [][]byte, roots []*x509.Certificate) (Inspection, error) {
	chain, err := parseChain(chainDER)
	if err != nil {
		return Inspection{}, err
	}
	if err := checkLinks(chain); err != nil {
		return Inspection{}, err
	}
	var ext []byte
	for _, e := range chain[0].Extensions {
		if e.Id.Equal(OIDKeyDescription) {
			ext = e.Value
		}
	}
	kd, err := ParseKeyDescription(ext)
	if err != nil {
		return Inspection{}, refuse(ReasonMalformed, "%v", err)
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return Inspection{}, refuse(ReasonAlgorithm, "the attested key is not EC")
	}
	in := Inspection{PublicKey: pub, Anchored: anchorOf(chain[len(chain)-1], roots) != nil, Root: fingerprint(chain[len(chain)-1]),
		Description: &kd, UserVerification: UVNotProven}
	hw := kd.HardwareEnforced
	if (kd.AttestationSecurityLevel == LevelTEE || kd.AttestationSecurityLevel == LevelStrongBox) && !hw.NoAuthRequired &&
		hw.AuthTimeout == nil && hw.UserAuthType != nil {
		switch *hw.UserAuthType & (AuthPassword | AuthFingerprint) {
		case AuthFingerprint:
			in.UserVerification = UVBiometric
		case AuthPassword:
			in.UserVerification = UVDeviceCredential
		case AuthPassword | AuthFingerprint:
			in.UserVerification = UVEither
		}
	}
	return in, nil
}

func parseChain(chainDER [][]byte) ([]*x509.Certificate, error) {
	if len(chainDER) < 2 || len(chainDER) > maxChain {
		return nil, refuse(ReasonMalformed, "the chain must hold 2 to %d certificates, leaf first", maxChain)
	}
	chain := make([]*x509.Certificate, len(chainDER))
	for i, der := range chainDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, refuse(ReasonMalformed, "certificate %d: %v", i, err)
		}
		chain[i] = c
	}
	return chain, nil
}
