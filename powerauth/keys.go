package powerauth

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// secretFormat writes "[redacted]" for every fmt verb, so that a secret printed by mistake leaks nothing.
func secretFormat(f fmt.State) { _, _ = f.Write([]byte(redacted)) }

// SecretKey is a 128-bit symmetric key, the unit of the PowerAuth key hierarchy
// (PowerAuth 3.x, Key Derivation: every derived key is 16 bytes).
type SecretKey [16]byte

// MasterSecretKey is KEY_MASTER_SECRET, the folded ECDH secret of the device and server key pairs.
type MasterSecretKey [16]byte

// SignatureKey is one of KEY_SIGNATURE_POSSESSION, KEY_SIGNATURE_KNOWLEDGE or KEY_SIGNATURE_BIOMETRY.
type SignatureKey [16]byte

// TransportKey is KEY_TRANSPORT.
type TransportKey [16]byte

// VaultKey is KEY_ENCRYPTION_VAULT.
type VaultKey [16]byte

// TokenSecret is the 16-byte secret of a MAC token.
type TokenSecret [16]byte

// LogValue implements slog.LogValuer.
func (SecretKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (SecretKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (k SecretKey) Equal(o SecretKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// LogValue implements slog.LogValuer.
func (MasterSecretKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (MasterSecretKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (k MasterSecretKey) Equal(o MasterSecretKey) bool {
	return subtle.ConstantTimeCompare(k[:], o[:]) == 1
}

// LogValue implements slog.LogValuer.
func (SignatureKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (SignatureKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (k SignatureKey) Equal(o SignatureKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// LogValue implements slog.LogValuer.
func (TransportKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (TransportKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (k TransportKey) Equal(o TransportKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// LogValue implements slog.LogValuer.
func (VaultKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (VaultKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (k VaultKey) Equal(o VaultKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// LogValue implements slog.LogValuer.
func (TokenSecret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the secret.
func (TokenSecret) Format(f fmt.State, _ rune) { secretFormat(f) }

// NewTokenSecret returns 16 random bytes from crypto/rand.
func NewTokenSecret() (TokenSecret, error) {
	var s TokenSecret
	_, err := rand.Read(s[:])
	return s, err
}

// key16 copies exactly 16 bytes.
func key16(b []byte) ([16]byte, error) {
	var k [16]byte
	if len(b) != 16 {
		return k, fmt.Errorf("%w: want 16 bytes, got %d", ErrInvalidKey, len(b))
	}
	copy(k[:], b)
	return k, nil
}

// ParseSecretKey reads a 16-byte key, e.g. one loaded from storage.
func ParseSecretKey(b []byte) (SecretKey, error) { k, err := key16(b); return SecretKey(k), err }

// ParseSignatureKey reads a 16-byte signature factor key.
func ParseSignatureKey(b []byte) (SignatureKey, error) {
	k, err := key16(b)
	return SignatureKey(k), err
}

// ParseTransportKey reads a 16-byte KEY_TRANSPORT.
func ParseTransportKey(b []byte) (TransportKey, error) {
	k, err := key16(b)
	return TransportKey(k), err
}

// ParseMasterSecretKey reads a 16-byte KEY_MASTER_SECRET.
func ParseMasterSecretKey(b []byte) (MasterSecretKey, error) {
	k, err := key16(b)
	return MasterSecretKey(k), err
}

// ParseTokenSecret reads a 16-byte token secret.
func ParseTokenSecret(b []byte) (TokenSecret, error) { k, err := key16(b); return TokenSecret(k), err }

// ApplicationSecret is APPLICATION_SECRET in its base64 text form, which is how the signature
// data and ECIES SHARED_INFO_2 use it (PowerAuth 3.x, Computing and Validating Signatures).
type ApplicationSecret string

// LogValue implements slog.LogValuer.
func (ApplicationSecret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Decoded returns the 16 bytes behind the base64 text (used by the 3.3 temporary key JWT).
func (s ApplicationSecret) Decoded() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("%w: application secret is not base64 of 16 bytes", ErrInvalidKey)
	}
	return b, nil
}

// NewApplicationSecret returns a random application secret (16 bytes from crypto/rand, base64).
func NewApplicationSecret() (ApplicationSecret, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return ApplicationSecret(base64.StdEncoding.EncodeToString(b[:])), nil
}

// fold implements the PowerAuth 32 → 16 byte reduction: fold(x)[i] = x[i] ^ x[i+16]
// (PowerAuth 3.x, Key Derivation, ByteUtils.convert32Bto16B).
func fold(x []byte) [16]byte {
	var out [16]byte
	for i := range 16 {
		out[i] = x[i] ^ x[i+16]
	}
	return out
}

// PublicKey is a P-256 public key (KEY_DEVICE_PUBLIC, KEY_SERVER_PUBLIC, KEY_SERVER_MASTER_PUBLIC or an
// ephemeral ECIES key).
type PublicKey struct {
	ecdh  *ecdh.PublicKey
	ecdsa *ecdsa.PublicKey
}

// ParsePublicKey accepts the SEC 1 uncompressed (65 bytes, 0x04 prefix) or compressed (33 bytes, 0x02/0x03)
// encoding of a P-256 point and rejects anything not on the curve (PowerAuth 3.x, Key Conversion).
func ParsePublicKey(b []byte) (*PublicKey, error) {
	var uncompressed []byte
	switch {
	case len(b) == 65 && b[0] == 4:
		uncompressed = b
	case len(b) == 33 && (b[0] == 2 || b[0] == 3):
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b)
		if x == nil {
			return nil, fmt.Errorf("%w: compressed point not on P-256", ErrInvalidKey)
		}
		uncompressed = make([]byte, 65)
		uncompressed[0] = 4
		x.FillBytes(uncompressed[1:33])
		y.FillBytes(uncompressed[33:])
	default:
		return nil, fmt.Errorf("%w: public key must be 65 (uncompressed) or 33 (compressed) bytes, got %d", ErrInvalidKey, len(b))
	}
	ek, err := ecdh.P256().NewPublicKey(uncompressed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	sk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return &PublicKey{ecdh: ek, ecdsa: sk}, nil
}

// ParsePublicKeyBase64 is ParsePublicKey over standard base64 text.
func ParsePublicKeyBase64(s string) (*PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return ParsePublicKey(b)
}

// Bytes returns the 65-byte uncompressed encoding.
func (k *PublicKey) Bytes() []byte { return k.ecdh.Bytes() }

// CompressedBytes returns the 33-byte compressed encoding (what the mobile SDKs send for ephemeral keys).
func (k *PublicKey) CompressedBytes() []byte {
	u := k.ecdh.Bytes()
	out := make([]byte, 33)
	out[0] = 2 | (u[64] & 1)
	copy(out[1:], u[1:33])
	return out
}

// Equal reports whether both keys are the same point.
func (k *PublicKey) Equal(o *PublicKey) bool { return o != nil && k.ecdh.Equal(o.ecdh) }

// x returns the 32-byte affine X coordinate.
func (k *PublicKey) x() []byte { return k.ecdh.Bytes()[1:33] }

// PrivateKey is a P-256 private key (KEY_DEVICE_PRIVATE, KEY_SERVER_PRIVATE or KEY_SERVER_MASTER_PRIVATE).
// It never prints or logs its scalar.
type PrivateKey struct {
	ecdh  *ecdh.PrivateKey
	ecdsa *ecdsa.PrivateKey
	pub   *PublicKey
}

// GeneratePrivateKey creates a P-256 key pair from crypto/rand (PowerAuth 3.x, Key Generation:
// KEY_DEVICE_*, KEY_SERVER_*, KEY_SERVER_MASTER_* and ephemeral keys are all P-256).
func GeneratePrivateKey() (*PrivateKey, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k.Bytes())
}

// ParsePrivateKey reads a P-256 private scalar. It accepts the raw 32-byte form and the Java
// BigInteger.toByteArray form the PowerAuth server stores and the vectors use: a leading 0x00 sign byte
// (33 bytes) or a shorter value without leading zeros (PowerAuth 3.x, Key Conversion).
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	switch {
	case len(b) == 33 && b[0] == 0:
		b = b[1:]
	case len(b) == 0 || len(b) > 32:
		return nil, fmt.Errorf("%w: private key of %d bytes", ErrInvalidKey, len(b))
	}
	raw := make([]byte, 32)
	copy(raw[32-len(b):], b)
	return newPrivateKey(raw)
}

func newPrivateKey(raw []byte) (*PrivateKey, error) {
	ek, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	sk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	pub, err := ParsePublicKey(ek.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{ecdh: ek, ecdsa: sk, pub: pub}, nil
}

// Bytes returns the raw 32-byte scalar, for sealed storage only.
func (k *PrivateKey) Bytes() []byte { return k.ecdh.Bytes() }

// PublicKey returns the matching public key.
func (k *PrivateKey) PublicKey() *PublicKey { return k.pub }

// LogValue implements slog.LogValuer.
func (*PrivateKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the scalar.
func (*PrivateKey) Format(f fmt.State, _ rune) { secretFormat(f) }

// sharedX is the 32-byte ECDH X coordinate (not folded), the Z of ECIES.
func (k *PrivateKey) sharedX(pub *PublicKey) ([]byte, error) {
	z, err := k.ecdh.ECDH(pub.ecdh)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return z, nil
}

// MasterSecret computes KEY_MASTER_SECRET = fold(ECDH_X(priv, pub)); the device uses its private key and
// the server public key, the server the reverse (PowerAuth 3.x, Activation, "master shared secret").
func (k *PrivateKey) MasterSecret(pub *PublicKey) (MasterSecretKey, error) {
	z, err := k.sharedX(pub)
	if err != nil {
		return MasterSecretKey{}, err
	}
	return MasterSecretKey(fold(z)), nil
}

// SignECDSA signs SHA-256(data) and returns the ASN.1 DER signature
// (PowerAuth 3.x, SignatureUtils.computeECDSASignature, "SHA256withECDSA").
func (k *PrivateKey) SignECDSA(data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return ecdsa.SignASN1(rand.Reader, k.ecdsa, h[:])
}

// VerifyECDSA checks a DER ECDSA-SHA256 signature of data (PowerAuth 3.x, SignatureUtils.validateECDSASignature).
func (k *PublicKey) VerifyECDSA(data, sig []byte) error {
	h := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(k.ecdsa, h[:], sig) {
		return ErrInvalidSignature
	}
	return nil
}
