package powerauth

import (
	"crypto/aes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"fmt"
)

// Device-side PIN storage (PowerAuth mobile SDK, "password" protection of KEY_SIGNATURE_KNOWLEDGE; notes,
// Keys): the PIN is stretched with PBKDF2-HMAC-SHA1, 10 000 iterations, to a 128-bit key, and the knowledge
// key is encrypted with it as one AES-128 block without padding. A wrong PIN therefore yields a wrong
// knowledge key and never a local error: the device cannot be used as a PIN-guessing oracle, and every
// wrong guess reaches the server, which counts it and blocks the activation at the limit.
const (
	PINIterations = 10000
	PINSaltSize   = 16
)

// PINKey derives the key that protects the knowledge key from a PIN and a 16-byte salt.
func PINKey(pin string, salt []byte) (SecretKey, error) {
	if len(salt) != PINSaltSize {
		return SecretKey{}, fmt.Errorf("%w: PIN salt must be %d bytes", ErrInvalidKey, PINSaltSize)
	}
	b, err := pbkdf2.Key(sha1.New, pin, salt, PINIterations, 16)
	if err != nil {
		return SecretKey{}, err
	}
	return ParseSecretKey(b)
}

// EncryptKnowledgeKey protects KEY_SIGNATURE_KNOWLEDGE with a PIN.
func EncryptKnowledgeKey(k SignatureKey, pin string, salt []byte) ([16]byte, error) {
	pk, err := PINKey(pin, salt)
	if err != nil {
		return [16]byte{}, err
	}
	block, err := aes.NewCipher(pk[:])
	if err != nil {
		return [16]byte{}, err
	}
	var out [16]byte
	block.Encrypt(out[:], k[:])
	return out, nil
}

// DecryptKnowledgeKey recovers KEY_SIGNATURE_KNOWLEDGE with a PIN. Any PIN "works": a wrong one gives a
// wrong key, detected only by the server.
func DecryptKnowledgeKey(enc []byte, pin string, salt []byte) (SignatureKey, error) {
	if len(enc) != 16 {
		return SignatureKey{}, fmt.Errorf("%w: encrypted knowledge key must be 16 bytes", ErrInvalidKey)
	}
	pk, err := PINKey(pin, salt)
	if err != nil {
		return SignatureKey{}, err
	}
	block, err := aes.NewCipher(pk[:])
	if err != nil {
		return SignatureKey{}, err
	}
	var out SignatureKey
	block.Decrypt(out[:], enc)
	return out, nil
}
