package powerauth

import (
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Activation recovery (PowerAuth 3.x, Activation via Recovery Code; Recovery Postcard).

// RecoveryQRPrefix marks a QR code that carries a recovery code, not an activation code
// (Activation-via-Recovery-Code.md, "Format of Recovery code": "R:45AWJ-BVACS-SBWHS-ABANA").
const RecoveryQRPrefix = "R:"

// PUKLength is the number of digits of a recovery PUK ("Format of Recovery PUK": 10 digits, zero padded).
const PUKLength = 10

// PUK is a recovery Personal Unblocking Key: ten decimal digits.
type PUK string

// LogValue keeps PUKs out of logs.
func (PUK) LogValue() slog.Value { return slog.StringValue(redacted) }

// ErrInvalidPUK is returned for a PUK that is not ten decimal digits.
var ErrInvalidPUK = errors.New("powerauth: a recovery PUK is 10 digits")

// ValidatePUK checks the PUK's format. A printed PUK may be split "12345-67890"; the dash is removed.
func ValidatePUK(s string) (PUK, error) {
	if len(s) == PUKLength+1 && s[5] == '-' {
		s = s[:5] + s[6:]
	}
	if len(s) != PUKLength {
		return "", ErrInvalidPUK
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrInvalidPUK
		}
	}
	return PUK(s), nil
}

// RecoveryQRPayload is the text of a recovery QR code: "R:" ‖ code.
func RecoveryQRPayload(code ActivationCode) string { return RecoveryQRPrefix + string(code) }

// ParseRecoveryCode accepts a recovery code typed by the user or scanned ("R:" prefix optional), corrects it
// as the SDKs do (CorrectActivationCode) and validates its format and CRC like an activation code.
func ParseRecoveryCode(s string) (ActivationCode, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && strings.EqualFold(s[:2], RecoveryQRPrefix) {
		s = s[2:]
	}
	return ValidateActivationCode(CorrectActivationCode(s))
}

// RecoverySeed is what a recovery postcard's printing service needs to rebuild the code and PUKs
// (Recovery-Postcard.md, "Printing Order"): the 32-byte NONCE and one derivation index per PUK, in the
// order the user applies them. Neither is stored by the server.
type RecoverySeed struct {
	Nonce                []byte
	PUKDerivationIndexes []uint64
}

// RecoveryInfo is a recovery code with its PUKs, PUK index i+1 at PUKs[i].
type RecoveryInfo struct {
	Code ActivationCode
	PUKs []PUK
	Seed RecoverySeed
}

// PostcardKey is the 32-byte RPPS_MASTER_SHARED_SECRET: the full ECDH X coordinate between the server's
// postcard private key and the printing service's public key (KeyGenerator.computeSharedKey, keep32b).
func PostcardKey(serverPriv *PrivateKey, printerPub *PublicKey) ([]byte, error) {
	return serverPriv.sharedX(printerPub)
}

// GenerateRecovery draws a recovery code and pukCount distinct PUKs from secret the way Wultra's
// IdentifierGenerator.generateRecoveryCode does: a random 32-byte NONCE, D = X9.63-KDF-SHA256(secret, NONCE,
// 26), the code built from D[0:10] like an activation code, the PUK base key D[10:26], and for each PUK a
// random 8-byte derivation index.
func GenerateRecovery(secret []byte, pukCount int) (RecoveryInfo, error) {
	if pukCount < 1 || pukCount > 100 {
		return RecoveryInfo{}, errors.New("powerauth: a recovery code has 1 to 100 PUKs")
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return RecoveryInfo{}, err
	}
	seed := RecoverySeed{Nonce: nonce}
	base := recoveryBase(secret, nonce)
	seen := map[PUK]bool{}
	var puks []PUK
	for len(puks) < pukCount {
		var idx [8]byte
		if _, err := rand.Read(idx[:]); err != nil {
			return RecoveryInfo{}, err
		}
		p := derivePUK(base, idx)
		if seen[p] {
			continue // the PUKs of one code are distinct (IdentifierGenerator: "Make sure that generated PUK is unique")
		}
		seen[p] = true
		puks = append(puks, p)
		seed.PUKDerivationIndexes = append(seed.PUKDerivationIndexes, binary.BigEndian.Uint64(idx[:]))
	}
	return RecoveryInfo{Code: recoveryCode(secret, nonce), PUKs: puks, Seed: seed}, nil
}

// DeriveRecovery rebuilds the code and PUKs from the shared secret and a seed: what the printing service
// does (Recovery-Postcard.md; IdentifierGenerator.deriveRecoveryCode).
func DeriveRecovery(secret []byte, seed RecoverySeed) (RecoveryInfo, error) {
	if len(seed.Nonce) != 32 {
		return RecoveryInfo{}, fmt.Errorf("powerauth: the recovery nonce is 32 bytes, not %d", len(seed.Nonce))
	}
	base := recoveryBase(secret, seed.Nonce)
	info := RecoveryInfo{Code: recoveryCode(secret, seed.Nonce), Seed: seed}
	for _, i := range seed.PUKDerivationIndexes {
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], i)
		info.PUKs = append(info.PUKs, derivePUK(base, idx))
	}
	return info, nil
}

func recoveryCode(secret, nonce []byte) ActivationCode {
	var r [activationCodeRandomBytes]byte
	copy(r[:], x963KDF(secret, nonce, 26)[:10])
	return activationCodeFromRandom(r)
}

func recoveryBase(secret, nonce []byte) []byte { return x963KDF(secret, nonce, 26)[10:26] }

// derivePUK is KeyGenerator.deriveSecretKey(base, index) — AES-128-CBC with a zero IV and PKCS#7 padding
// over the 8 index bytes, first block kept, so AES-ECB(base, index ‖ 0x08×8) — then the last 8 bytes as a
// big-endian integer, its low 40 bits, modulo 10^10, zero-padded to 10 digits (IdentifierGenerator.generatePuk).
func derivePUK(base []byte, idx [8]byte) PUK {
	block, err := aes.NewCipher(base)
	if err != nil {
		panic(err) // unreachable: the base key is always 16 bytes
	}
	var in, out [16]byte
	copy(in[:], idx[:])
	for i := 8; i < 16; i++ {
		in[i] = 8
	}
	block.Encrypt(out[:], in[:])
	v := (binary.BigEndian.Uint64(out[8:]) & 0xFFFFFFFFFF) % 10_000_000_000
	return PUK(fmt.Sprintf("%010d", v))
}
