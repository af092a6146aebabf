package powerauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// minimalX returns the X coordinate as big.Int.Bytes() would: big-endian, leading zero bytes stripped
// (PowerAuth 3.x docs-versus-code item 6: "Fingerprint X is minimal-length").
func minimalX(k *PublicKey) []byte { return bytes.TrimLeft(k.x(), "\x00") }

// ActivationFingerprint computes the version 3 activation fingerprint shown on both sides for visual
// comparison (PowerAuth 3.x, Activation, "Public Key Fingerprint", ECPublicKeyFingerprint VERSION_3):
// SHA-256(X(devPub) ‖ UTF8(activationId) ‖ X(srvPub)), last 4 bytes big-endian & 0x7FFFFFFF, mod 10^8,
// zero-padded to 8 digits.
func ActivationFingerprint(devicePub, serverPub *PublicKey, activationID string) string {
	h := sha256.New()
	h.Write(minimalX(devicePub))
	h.Write([]byte(activationID))
	h.Write(minimalX(serverPub))
	sum := h.Sum(nil)
	n := binary.BigEndian.Uint32(sum[len(sum)-4:]) & 0x7FFFFFFF
	return fmt.Sprintf("%08d", n%100000000)
}
