package attest

import (
	"errors"
	"fmt"
	"time"
)

// Formats of device-key attestation.
const (
	FormatNone         = ""                // no attestation: the app's word, a key of unknown residence
	FormatAndroidKey   = "android-key"     // Android Key Attestation certificate chain
	FormatAppleAppAtt  = "apple-appattest" // Apple App Attest attestation object
	UVBiometric        = "biometric"       // every signature needs a Class 3 biometric (hardware-enforced)
	UVDeviceCredential = "device_credential"
	UVEither           = "biometric_or_device_credential"
	UVNotProven        = "not_proven" // the platform does not attest it (App Attest, or no attestation)
)

// Assurance is what an attestation proved about a device key, stored with the credential and
// shown by the private API. The zero value is an unattested key.
type Assurance struct {
	Format string `json:"format"`
	// HardwareLevel: "strongbox" or "tee" (Android, from attestationSecurityLevel); "" when the
	// key's residence is not proven (App Attest attests the app's own key, not the device key).
	HardwareLevel string `json:"hardware_level,omitempty"`
	// UserVerification: how the hardware gates every signature (UV* constants).
	UserVerification string `json:"user_verification"`
	// AppID: the package name(s) (Android) or team id.bundle id (Apple) the platform vouched for;
	// AppVerified says it matched the bank's configured policy.
	AppID       string `json:"app_id,omitempty"`
	AppVerified bool   `json:"app_verified"`
	// OSPatchLevel (YYYYMM) and VerifiedBoot (Android RootOfTrust) as attested.
	OSPatchLevel int    `json:"os_patch_level,omitempty"`
	VerifiedBoot string `json:"verified_boot,omitempty"`
	DeviceLocked bool   `json:"device_locked,omitempty"`
	// Notes record what was not checked, e.g. a revocation list that could not be reached.
	Notes      []string  `json:"notes,omitempty"`
	AttestedAt time.Time `json:"attested_at,omitzero"`
}

// Attested reports whether a platform attestation was verified.
func (a Assurance) Attested() bool { return a.Format != FormatNone }

// AMR returns the RFC 8176 methods an approval with this key proves: "hwk" (possession of a
// key, PSD2 RTS Art. 7), plus "fpt" (a biometric, Art. 8; Signet's name for biometry, as for
// PowerAuth) or "pin" (the device PIN, pattern or password, knowledge, Art. 6) when the
// hardware enforces exactly that authenticator on every use of the key. A key that accepts
// either proves the user was verified but not which element, so it adds "user", which counts
// for no category: its approvals stay single-factor (docs/device-keys.md).
func (a Assurance) AMR() []string {
	if a.Format != FormatAndroidKey {
		return []string{"hwk"}
	}
	switch a.UserVerification {
	case UVBiometric:
		return []string{"hwk", "fpt"}
	case UVDeviceCredential:
		return []string{"hwk", "pin"}
	case UVEither:
		return []string{"hwk", "user"}
	}
	return []string{"hwk"}
}

// Refusal reasons, stable for audit records and tests.
const (
	ReasonMalformed     = "malformed"
	ReasonChain         = "chain"
	ReasonUnknownRoot   = "unknown_root"
	ReasonExpired       = "expired"
	ReasonRevoked       = "revoked"
	ReasonRevocation    = "revocation_unavailable"
	ReasonChallenge     = "challenge"
	ReasonKeyMismatch   = "key_mismatch"
	ReasonSecurityLevel = "security_level"
	ReasonOrigin        = "origin"
	ReasonPurpose       = "purpose"
	ReasonAlgorithm     = "algorithm"
	ReasonUserAuth      = "user_auth"
	ReasonAuthTimeout   = "auth_timeout"
	ReasonApp           = "app_id"
	ReasonBoot          = "verified_boot"
	ReasonPatchLevel    = "patch_level"
	ReasonAuthData      = "auth_data"
	ReasonCounter       = "counter"
	ReasonSignature     = "signature"
)

// Refusal is an attestation that does not satisfy the policy.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string { return "attestation refused (" + r.Reason + "): " + r.Detail }

func refuse(reason, format string, args ...any) error {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Refusal reason of err, or "".
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}
