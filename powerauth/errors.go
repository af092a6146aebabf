package powerauth

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with detail; compare with errors.Is.
var (
	// ErrInvalidKey reports a key of the wrong length or a point that is not on P-256.
	ErrInvalidKey = errors.New("powerauth: invalid key")
	// ErrInvalidActivationCode reports an activation code that fails format or CRC validation.
	ErrInvalidActivationCode = errors.New("powerauth: invalid activation code")
	// ErrInvalidSignature reports an ECDSA signature that does not verify.
	ErrInvalidSignature = errors.New("powerauth: invalid ECDSA signature")
	// ErrSignatureMismatch reports a PowerAuth (HMAC based) signature that matches no counter in the window.
	ErrSignatureMismatch = errors.New("powerauth: signature mismatch")
	// ErrFactorMismatch reports a multi-factor signature whose possession component verifies at a counter in
	// the window while the whole signature does not: the device was used, with a wrong PIN (knowledge) or
	// biometry. It wraps ErrSignatureMismatch. A signature that fails without it proves nothing about the
	// user (its possession component does not verify either).
	ErrFactorMismatch = fmt.Errorf("%w: possession verifies, another factor does not", ErrSignatureMismatch)
	// ErrInvalidSignatureType reports an unknown or unsupported signature type.
	ErrInvalidSignatureType = errors.New("powerauth: invalid signature type")
	// ErrUnsupportedVersion reports a protocol version outside of what a function supports.
	ErrUnsupportedVersion = errors.New("powerauth: unsupported protocol version")
	// ErrInvalidHeader reports a malformed PowerAuth HTTP header.
	ErrInvalidHeader = errors.New("powerauth: invalid header")
	// ErrInvalidEnvelope reports a malformed ECIES envelope or encryptor configuration.
	ErrInvalidEnvelope = errors.New("powerauth: invalid ECIES envelope")
	// ErrDecryption reports a MAC mismatch or a padding failure while decrypting.
	ErrDecryption = errors.New("powerauth: decryption failed")
	// ErrInvalidStatusBlob reports a status blob that fails the device-side checks.
	ErrInvalidStatusBlob = errors.New("powerauth: invalid status blob")
	// ErrInvalidOperationData reports malformed operation data.
	ErrInvalidOperationData = errors.New("powerauth: invalid operation data")
	// ErrInvalidOfflinePayload reports a malformed offline QR payload.
	ErrInvalidOfflinePayload = errors.New("powerauth: invalid offline payload")
)
