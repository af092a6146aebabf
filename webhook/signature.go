package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
	HeaderSignature = "Signet-Signature"
	// HeaderEventID repeats the event id, for receivers that deduplicate before parsing.
	HeaderEventID = "Signet-Event-Id"
	// HeaderEventType repeats the event type.
	HeaderEventType = "Signet-Event-Type"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// MinSecretLen is the shortest secret accepted for signing (32 bytes: the HMAC-SHA256 key size).
const MinSecretLen = 32

// Secret is the HMAC key shared with receivers. It never prints.
type Secret []byte

// String keeps the secret out of formatted output.
func (Secret) String() string { return "[redacted]" }

// LogValue keeps the secret out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Sign returns the Signet-Signature header value for body sent at t: the timestamp and the
// HMAC-SHA256 (RFC 2104) of "<unix seconds>.<body>". Binding the timestamp lets a receiver
// refuse an old delivery replayed to it.
func Sign(secret Secret, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret Secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrMalformedSignature = errors.New("webhook: malformed Signet-Signature header")
	ErrStaleSignature     = errors.New("webhook: signature timestamp outside the tolerance")
	ErrBadSignature       = errors.New("webhook: signature does not match")
)

// Verify checks a Signet-Signature header for a receiver: the timestamp is within tolerance of
// now (0 means DefaultTolerance) and one of the v1 values is the HMAC of the body under secret
// (compared in constant time). Several v1 values are allowed so a sender can sign with an old
// and a new secret while the secret is rotated.
func Verify(secret Secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return ErrMalformedSignature
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
