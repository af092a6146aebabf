package powerauth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
)

// ActivationCode is a validated activation code "XXXXX-XXXXX-XXXXX-XXXXX". It is a one-time secret: it
// never appears in a log line.
type ActivationCode string

// LogValue implements slog.LogValuer.
func (ActivationCode) LogValue() slog.Value { return slog.StringValue(redacted) }

const (
	activationCodeRandomBytes = 10
	activationCodeBytes       = 12
	activationCodeLength      = 23
)

// crc16ARC is CRC-16/ARC: reflected polynomial 0xA001, init 0, no final xor
// (PowerAuth 3.x, Activation Code, "CRC-16"; "123456789" → 0xBB3D).
func crc16ARC(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// GenerateActivationCode draws 10 bytes from crypto/rand, appends their CRC-16 big-endian, and encodes the
// 12 bytes as Base32 split into four groups of five (PowerAuth 3.x, Activation Code, "Code construction").
func GenerateActivationCode() (ActivationCode, error) {
	var b [activationCodeRandomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return activationCodeFromRandom(b), nil
}

func activationCodeFromRandom(r [activationCodeRandomBytes]byte) ActivationCode {
	var buf [activationCodeBytes]byte
	copy(buf[:], r[:])
	crc := crc16ARC(r[:])
	buf[10], buf[11] = byte(crc>>8), byte(crc)
	s := base32.StdEncoding.EncodeToString(buf[:])[:20]
	return ActivationCode(s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20])
}

func isBase32Char(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') }

// ValidateActivationCode checks an activation code (PowerAuth 3.x, Activation Code, "Validation"):
// exactly 23 characters matching [A-Z2-7]{5}(-[A-Z2-7]{5}){3}, Base32 decoding to 12 bytes, and the CRC-16
// of the first 10 bytes equal to the last 2.
//
// Policy on the unused bits: 20 Base32 characters carry 100 bits for 96 bits of data, so the low 4 bits of
// the last character are unused. This implementation is STRICT: they must be zero (the last character is
// one of A, Q — what every generator emits). The Java reference decodes leniently and ignores them; strict
// makes the textual code canonical, so that one code has exactly one spelling for the uniqueness check and
// the database lookup, and a typo in the last character is rejected instead of silently accepted.
func ValidateActivationCode(s string) (ActivationCode, error) {
	if len(s) != activationCodeLength {
		return "", fmt.Errorf("%w: want %d characters, got %d", ErrInvalidActivationCode, activationCodeLength, len(s))
	}
	raw := make([]byte, 0, 24)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%6 == 5 {
			if c != '-' {
				return "", fmt.Errorf("%w: dash expected at position %d", ErrInvalidActivationCode, i)
			}
			continue
		}
		if !isBase32Char(c) {
			return "", fmt.Errorf("%w: character at position %d is not Base32 [A-Z2-7]", ErrInvalidActivationCode, i)
		}
		raw = append(raw, c)
	}
	if strings.IndexByte("AQ", raw[19]) < 0 {
		return "", fmt.Errorf("%w: non-zero unused bits in the last character", ErrInvalidActivationCode)
	}
	b, err := base32.StdEncoding.DecodeString(string(raw) + "====")
	if err != nil || len(b) != activationCodeBytes {
		return "", fmt.Errorf("%w: Base32 decoding failed", ErrInvalidActivationCode)
	}
	if crc16ARC(b[:10]) != uint16(b[10])<<8|uint16(b[11]) {
		return "", fmt.Errorf("%w: CRC-16 mismatch", ErrInvalidActivationCode)
	}
	return ActivationCode(s), nil
}

// CorrectActivationCode normalises what a user typed on the device side before validation
// (PowerAuth mobile SDK, ActivationCodeUtil "auto-correction"): it drops spaces and dashes, upper-cases
// letters, maps 0 → O and 1 → I, and re-inserts the dashes when exactly 20 characters remain. It does not
// validate: pass the result to ValidateActivationCode.
func CorrectActivationCode(input string) string {
	var b strings.Builder
	for _, r := range input {
		switch {
		case r == ' ' || r == '\t' || r == '-':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r == '0':
			r = 'O'
		case r == '1':
			r = 'I'
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) != 20 {
		return s
	}
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
}

// SignActivationCode signs the code's UTF-8 bytes with KEY_SERVER_MASTER_PRIVATE, ECDSA-SHA256, DER
// (PowerAuth 3.x, Activation via Activation Code, "activation code signature").
func SignActivationCode(master *PrivateKey, code ActivationCode) ([]byte, error) {
	return master.SignECDSA([]byte(code))
}

// VerifyActivationCodeSignature verifies the master-key signature over the code (device side).
func VerifyActivationCodeSignature(masterPub *PublicKey, code ActivationCode, sig []byte) error {
	return masterPub.VerifyECDSA([]byte(code), sig)
}

// ActivationQRPayload builds the QR content "CODE#<base64 DER signature>"
// (PowerAuth 3.x, Activation Code, "QR code").
func ActivationQRPayload(code ActivationCode, sig []byte) string {
	return string(code) + "#" + base64.StdEncoding.EncodeToString(sig)
}

// ParseActivationQRPayload splits and validates "CODE#SIGNATURE" and verifies the signature with the
// application's master public key. A payload without "#" is rejected: a scanned code must be signed.
func ParseActivationQRPayload(payload string, masterPub *PublicKey) (ActivationCode, error) {
	codePart, sigPart, ok := strings.Cut(payload, "#")
	if !ok {
		return "", fmt.Errorf("%w: QR payload has no signature", ErrInvalidActivationCode)
	}
	code, err := ValidateActivationCode(codePart)
	if err != nil {
		return "", err
	}
	sig, err := base64.StdEncoding.DecodeString(sigPart)
	if err != nil || len(sig) == 0 || len(sig) > 80 {
		return "", fmt.Errorf("%w: QR signature is not base64 DER", ErrInvalidSignature)
	}
	if err := VerifyActivationCodeSignature(masterPub, code, sig); err != nil {
		return "", err
	}
	return code, nil
}
