package attest

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// OIDKeyDescription is the Android Key Attestation extension
// (https://source.android.com/docs/security/features/keystore/attestation#attestation-extension).
var OIDKeyDescription = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}

// SecurityLevel is the KeyMint SecurityLevel ENUMERATED.
type SecurityLevel int

// KeyMint SecurityLevel values.
const (
	LevelSoftware  SecurityLevel = 0
	LevelTEE       SecurityLevel = 1
	LevelStrongBox SecurityLevel = 2
)

func (l SecurityLevel) String() string {
	switch l {
	case LevelSoftware:
		return "software"
	case LevelTEE:
		return "tee"
	case LevelStrongBox:
		return "strongbox"
	}
	return fmt.Sprintf("unknown(%d)", int(l))
}

// VerifiedBootState is the RootOfTrust verifiedBootState ENUMERATED.
type VerifiedBootState int

// Verified boot states.
const (
	BootVerified   VerifiedBootState = 0
	BootSelfSigned VerifiedBootState = 1
	BootUnverified VerifiedBootState = 2
	BootFailed     VerifiedBootState = 3
)

func (s VerifiedBootState) String() string {
	switch s {
	case BootVerified:
		return "verified"
	case BootSelfSigned:
		return "self_signed"
	case BootUnverified:
		return "unverified"
	case BootFailed:
		return "failed"
	}
	return fmt.Sprintf("unknown(%d)", int(s))
}

// KeyMint tag values used by the policy (hardware/interfaces/security/keymint/aidl/.../Tag.aidl,
// KeyPurpose.aidl, Algorithm.aidl, EcCurve.aidl, KeyOrigin.aidl, HardwareAuthenticatorType.aidl).
const (
	PurposeSign     = 2
	AlgorithmEC     = 3
	CurveP256       = 1
	OriginGenerated = 0
	AuthPassword    = 1 // HardwareAuthenticatorType.PASSWORD: the device PIN, pattern or password
	AuthFingerprint = 2 // HardwareAuthenticatorType.FINGERPRINT: any Class 3 (strong) biometric
)

// AuthorizationList holds the fields of the AOSP AuthorizationList that Signet reads; the
// others are skipped. Pointer fields are nil when the tag is absent.
type AuthorizationList struct {
	Purpose                  []int
	Algorithm                *int
	KeySize                  *int
	ECCurve                  *int
	NoAuthRequired           bool
	UserAuthType             *int64
	AuthTimeout              *int64
	TrustedUserPresence      bool
	Origin                   *int
	RootOfTrust              *RootOfTrust
	OSVersion                *int
	OSPatchLevel             *int
	AttestationApplicationID []byte
	VendorPatchLevel         *int
	BootPatchLevel           *int
}

// RootOfTrust is the verified-boot information.
type RootOfTrust struct {
	VerifiedBootKey   []byte
	DeviceLocked      bool
	VerifiedBootState VerifiedBootState
	VerifiedBootHash  []byte
}

// KeyDescription is the attestation extension's content.
type KeyDescription struct {
	AttestationVersion       int
	AttestationSecurityLevel SecurityLevel
	KeyMintVersion           int
	KeyMintSecurityLevel     SecurityLevel
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         AuthorizationList
	HardwareEnforced         AuthorizationList
}

// ApplicationID is the AttestationApplicationId (a DER SEQUENCE inside an OCTET STRING).
type ApplicationID struct {
	Packages         []PackageInfo
	SignatureDigests [][]byte
}

// PackageInfo names one package of the application's uid.
type PackageInfo struct {
	Name    string
	Version int64
}

var errKeyDescription = errors.New("attest: malformed KeyDescription")

// keyDescription mirrors the KeyDescription SEQUENCE of the AOSP attestation schema, version
// 400 (KeyMint 4, https://source.android.com/docs/security/features/keystore/attestation#schema);
// earlier versions (Keymaster 2 to KeyMint 3) have the same top-level shape.
type keyDescription struct {
	AttestationVersion       int
	AttestationSecurityLevel asn1.Enumerated
	KeyMintVersion           int
	KeyMintSecurityLevel     asn1.Enumerated
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         asn1.RawValue
	HardwareEnforced         asn1.RawValue
}

// ParseKeyDescription parses the DER value of the attestation extension. It refuses
// trailing data, duplicate tags and tags out of order, and values of the wrong type.
func ParseKeyDescription(der []byte) (KeyDescription, error) {
	var kd keyDescription
	rest, err := asn1.Unmarshal(der, &kd)
	if err != nil {
		return KeyDescription{}, fmt.Errorf("%w: %v", errKeyDescription, err)
	}
	if len(rest) != 0 {
		return KeyDescription{}, fmt.Errorf("%w: trailing data", errKeyDescription)
	}
	out := KeyDescription{AttestationVersion: kd.AttestationVersion, KeyMintVersion: kd.KeyMintVersion,
		AttestationSecurityLevel: SecurityLevel(kd.AttestationSecurityLevel), KeyMintSecurityLevel: SecurityLevel(kd.KeyMintSecurityLevel),
		AttestationChallenge: kd.AttestationChallenge, UniqueID: kd.UniqueID}
	if out.SoftwareEnforced, err = parseAuthorizationList(kd.SoftwareEnforced); err != nil {
		return KeyDescription{}, fmt.Errorf("softwareEnforced: %w", err)
	}
	if out.HardwareEnforced, err = parseAuthorizationList(kd.HardwareEnforced); err != nil {
		return KeyDescription{}, fmt.Errorf("hardwareEnforced: %w", err)
	}
	return out, nil
}

func parseAuthorizationList(rv asn1.RawValue) (AuthorizationList, error) {
	var al AuthorizationList
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSequence || !rv.IsCompound {
		return al, fmt.Errorf("%w: AuthorizationList is not a SEQUENCE", errKeyDescription)
	}
	b := rv.Bytes
	last := -1
	for len(b) > 0 {
		var f asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &f); err != nil {
			return al, fmt.Errorf("%w: %v", errKeyDescription, err)
		}
		if f.Class != asn1.ClassContextSpecific || !f.IsCompound {
			return al, fmt.Errorf("%w: AuthorizationList field is not an EXPLICIT context tag", errKeyDescription)
		}
		// DER (X.690 §10.3): the fields of a SEQUENCE come in the schema's order, once each.
		if f.Tag <= last {
			return al, fmt.Errorf("%w: tag [%d] duplicated or out of order", errKeyDescription, f.Tag)
		}
		last = f.Tag
		if err := al.set(f.Tag, f.Bytes); err != nil {
			return al, fmt.Errorf("%w: tag [%d]: %v", errKeyDescription, f.Tag, err)
		}
	}
	return al, nil
}

// set decodes one EXPLICIT field. Tag numbers are KeyMint Tag.aidl values without their type bits.
func (al *AuthorizationList) set(tag int, inner []byte) error {
	switch tag {
	case 1: // purpose SET OF INTEGER
		var set []int
		if err := unmarshalAll(inner, &set, "set"); err != nil {
			return err
		}
		al.Purpose = set
	case 2:
		return setInt(inner, &al.Algorithm)
	case 3:
		return setInt(inner, &al.KeySize)
	case 10:
		return setInt(inner, &al.ECCurve)
	case 503:
		return setNull(inner, &al.NoAuthRequired)
	case 504:
		return setInt64(inner, &al.UserAuthType)
	case 505:
		return setInt64(inner, &al.AuthTimeout)
	case 507:
		return setNull(inner, &al.TrustedUserPresence)
	case 702:
		return setInt(inner, &al.Origin)
	case 704:
		var r struct {
			VerifiedBootKey   []byte
			DeviceLocked      bool
			VerifiedBootState asn1.Enumerated
			VerifiedBootHash  []byte `asn1:"optional"` // absent before attestation version 3
		}
		if err := unmarshalAll(inner, &r, ""); err != nil {
			return err
		}
		al.RootOfTrust = &RootOfTrust{VerifiedBootKey: r.VerifiedBootKey, DeviceLocked: r.DeviceLocked,
			VerifiedBootState: VerifiedBootState(r.VerifiedBootState), VerifiedBootHash: r.VerifiedBootHash}
	case 705:
		return setInt(inner, &al.OSVersion)
	case 706:
		return setInt(inner, &al.OSPatchLevel)
	case 709:
		var b []byte
		if err := unmarshalAll(inner, &b, ""); err != nil {
			return err
		}
		al.AttestationApplicationID = b
	case 718:
		return setInt(inner, &al.VendorPatchLevel)
	case 719:
		return setInt(inner, &al.BootPatchLevel)
	default:
		// Another tag of the schema: well-formed DER is all that is asked of it.
		var skip asn1.RawValue
		return unmarshalAll(inner, &skip, "")
	}
	return nil
}

func unmarshalAll(b []byte, v any, params string) error {
	rest, err := asn1.UnmarshalWithParams(b, v, params)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

func setInt(b []byte, p **int) error {
	var n *big.Int
	if err := unmarshalAll(b, &n, ""); err != nil {
		return err
	}
	if !n.IsInt64() || n.Int64() < 0 || n.Int64() > 1<<31-1 {
		return errors.New("integer out of range")
	}
	v := int(n.Int64())
	*p = &v
	return nil
}

func setInt64(b []byte, p **int64) error {
	var n *big.Int
	if err := unmarshalAll(b, &n, ""); err != nil {
		return err
	}
	// userAuthType is a 32-bit flag set (ANY is 0xFFFFFFFF); authTimeout an unsigned 32-bit count of seconds.
	if !n.IsInt64() || n.Int64() < 0 || n.Int64() > 1<<32-1 {
		return errors.New("integer out of range")
	}
	v := n.Int64()
	*p = &v
	return nil
}

func setNull(b []byte, p *bool) error {
	var rv asn1.RawValue
	if err := unmarshalAll(b, &rv, ""); err != nil {
		return err
	}
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagNull || len(rv.Bytes) != 0 {
		return errors.New("not NULL")
	}
	*p = true
	return nil
}

// ParseApplicationID parses an AttestationApplicationId:
//
//	AttestationApplicationId ::= SEQUENCE {
//	    package_infos      SET OF AttestationPackageInfo,
//	    signature_digests  SET OF OCTET_STRING }
//	AttestationPackageInfo ::= SEQUENCE { package_name OCTET_STRING, version INTEGER }
func ParseApplicationID(der []byte) (ApplicationID, error) {
	var raw struct {
		Packages []struct {
			Name    []byte
			Version int64
		} `asn1:"set"`
		Digests [][]byte `asn1:"set"`
	}
	if err := unmarshalAll(der, &raw, ""); err != nil {
		return ApplicationID{}, fmt.Errorf("attest: malformed AttestationApplicationId: %v", err)
	}
	var out ApplicationID
	for _, p := range raw.Packages {
		out.Packages = append(out.Packages, PackageInfo{Name: string(p.Name), Version: p.Version})
	}
	out.SignatureDigests = raw.Digests
	return out, nil
}
