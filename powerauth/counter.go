package powerauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// DefaultLookahead is the server's counter look-ahead window (PowerAuth 3.x, Computing and Validating
// Signatures, CTR_LOOK_AHEAD default 20).
const DefaultLookahead = 20

// CounterData is CTR_DATA, the 16-byte hash-based signature counter.
type CounterData [16]byte

// NewCounterData returns a fresh random CTR_DATA from crypto/rand (PowerAuth 3.x, Activation: the server
// generates CTR_DATA).
func NewCounterData() (CounterData, error) {
	var c CounterData
	_, err := rand.Read(c[:])
	return c, err
}

// ParseCounterData reads 16 bytes.
func ParseCounterData(b []byte) (CounterData, error) {
	k, err := key16(b)
	if err != nil {
		return CounterData{}, fmt.Errorf("counter data: %w", err)
	}
	return CounterData(k), nil
}

// LogValue implements slog.LogValuer.
func (CounterData) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the counter.
func (CounterData) Format(f fmt.State, _ rune) { secretFormat(f) }

// Equal compares in constant time.
func (c CounterData) Equal(o CounterData) bool { return subtle.ConstantTimeCompare(c[:], o[:]) == 1 }

// Next returns next(c) = fold(SHA-256(c)) (PowerAuth 3.x, Hash Based Counter, HashBasedCounter.next).
func (c CounterData) Next() CounterData {
	h := sha256.Sum256(c[:])
	return CounterData(fold(h[:]))
}

// Hash returns CTR_DATA_HASH = KDF_INTERNAL(KDF(KEY_TRANSPORT, 4000), CTR_DATA), the value the status blob
// carries (PowerAuth 3.x, Activation Status, "CTR_DATA_HASH").
func (c CounterData) Hash(transport TransportKey) [16]byte {
	return KDFInternal(KDF(SecretKey(transport), KDFIndexCounterHash), c[:])
}
