package txsign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Domain separators of the digests specified in docs/dynamic-linking.md. They are hashed as
// raw bytes, without a length prefix, and are never the prefix of an LP-encoded field.
const (
	dlDomain     = "signet-dl-v1"
	rejectDomain = "signet-reject-v1"
)

// DigestSize is the size of a dynamic-linking or reject digest (SHA-256).
const DigestSize = sha256.Size

// ErrBadDigest is returned by DecodeDigest for anything but 43 base64url characters.
var ErrBadDigest = errors.New("txsign: digest is not 32 bytes of unpadded base64url")

// DLInput is everything the payer approves plus what makes the approval single-use.
// Values must already be canonical: Amount from CanonicalAmount, PayeeAccount from
// NormalizeAccount, PayeeName from CanonicalPayeeName; operations without a payee or amount
// (a login) leave those fields empty. Nonce is the operation's server-side random nonce as
// unpadded base64url text. ComputeDL applies NFC itself, so a decomposed name hashes like
// its composed form, but it canonicalises nothing else.
//
// The JSON names are those of the spec's test vectors (expires_at is RFC 3339 here).
type DLInput struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	PayeeAccount string    `json:"payee_account"`
	PayeeName    string    `json:"payee_name"`
	Amount       string    `json:"amount"`
	Currency     string    `json:"currency"`
	Nonce        string    `json:"nonce"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// ComputeDL returns the dynamic-linking digest of an operation (docs/dynamic-linking.md §2):
//
//	DL = SHA-256("signet-dl-v1" ‖ LP(id) ‖ LP(type) ‖ LP(payee.account) ‖ LP(payee.name) ‖
//	             LP(amount) ‖ LP(currency) ‖ LP(nonce) ‖ LP(expires_at))
//
// LP(s) is the 4-byte big-endian length of NFC(s) in UTF-8 followed by those bytes, and
// expires_at is the expiry in Unix seconds as a decimal string. The length prefixes make the
// encoding injective, so no two different operations hash the same bytes; the nonce makes the
// digest unique per operation, which is what PSD2 RTS Art. 5(1)(b) ("specific to the amount
// and the payee") and Art. 4(3)(a) (single use) need from an authentication code's input.
func ComputeDL(in DLInput) [DigestSize]byte {
	return sha256.Sum256(DLPreimage(in))
}

// DLPreimage returns the exact bytes ComputeDL hashes. It exists for test vectors, audit
// evidence and debugging another implementation; production code only needs ComputeDL.
func DLPreimage(in DLInput) []byte {
	fields := [...]string{
		in.ID, in.Type, in.PayeeAccount, in.PayeeName, in.Amount, in.Currency, in.Nonce,
		strconv.FormatInt(in.ExpiresAt.Unix(), 10),
	}
	var nfc [len(fields)]string
	size := len(dlDomain)
	for i, f := range fields {
		nfc[i] = norm.NFC.String(f)
		size += 4 + len(nfc[i])
	}
	b := make([]byte, 0, size)
	b = append(b, dlDomain...)
	for _, f := range nfc {
		// LP: a field longer than 4 GiB cannot reach here (operations are validated to a few
		// hundred bytes), and a truncated prefix would only make such a digest unusable.
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// RejectDigest is what a factor signs to reject an operation rather than approve it:
// SHA-256("signet-reject-v1" ‖ DL). A separate domain keeps a rejection signature from ever
// verifying as an approval of the same operation, and the other way round.
func RejectDigest(dl [DigestSize]byte) [DigestSize]byte {
	h := sha256.New()
	h.Write([]byte(rejectDomain))
	h.Write(dl[:])
	var out [DigestSize]byte
	h.Sum(out[:0])
	return out
}

// EncodeDigest writes a digest as unpadded base64url (RFC 4648 §5), the form used in the
// WebAuthn challenge, the transaction token's "dl" claim and the API.
func EncodeDigest(d [DigestSize]byte) string { return base64.RawURLEncoding.EncodeToString(d[:]) }

// DecodeDigest parses the output of EncodeDigest strictly (no padding, canonical final bits).
func DecodeDigest(s string) ([DigestSize]byte, error) {
	var d [DigestSize]byte
	if len(s) != base64.RawURLEncoding.EncodedLen(DigestSize) {
		return d, ErrBadDigest
	}
	n, err := base64.RawURLEncoding.Strict().Decode(d[:], []byte(s))
	if err != nil || n != DigestSize {
		return [DigestSize]byte{}, ErrBadDigest
	}
	return d, nil
}
