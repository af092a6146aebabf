package txsign

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"

	"github.com/signet-sca/signet/fault"
)

// Operation capabilities. An operation id names an operation; it grants
// nothing. What the public routes (the approval page's browser API, a
// device's signing-data, approve and reject) need besides the id is the
// operation's capability, a 256-bit MAC of the id that only Signet can
// compute (the unguessable-URL pattern of the W3C TAG finding "Good Practices
// for Capability URLs"):
//
//	capability = base64url(HMAC-SHA256(K_cap, "signet/op-capability/v1" ‖ operation id))   RFC 2104
//	K_cap      = HKDF-SHA256(KEK, salt "signet-kek-derive-v1", info "operation-capability")  RFC 5869
//
// It is stateless: nothing is stored, every replica computes the same value,
// and it lives exactly as long as the operation. It is minted with the first
// KEK and checked against every KEK of the ring, so rotating the KEK list
// (add the new key second, then move it first) strands no pending operation.
const (
	// CapabilityPurpose is the HKDF info the capability key is derived with;
	// distinct from every other subkey of the KEK (the passcode pepper is
	// "passcode-pepper").
	CapabilityPurpose = "operation-capability"
	capabilityLabel   = "signet/op-capability/v1"
	capabilitySize    = sha256.Size
)

// CapabilityKey is the HMAC key behind operation capabilities. It never
// prints: logs and %v show "[redacted]".
type CapabilityKey struct{ k [32]byte }

// LogValue keeps the key out of logs.
func (CapabilityKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String keeps the key out of fmt output.
func (CapabilityKey) String() string { return "[redacted]" }

// GoString keeps the key out of %#v output.
func (CapabilityKey) GoString() string { return "txsign.CapabilityKey{[redacted]}" }

func (k CapabilityKey) mac(opID string) []byte {
	m := hmac.New(sha256.New, k.k[:])
	m.Write([]byte(capabilityLabel))
	m.Write([]byte(opID))
	return m.Sum(nil)
}

// KeyDeriver derives a purpose's subkey from every KEK, first KEK first
// (kek.Ring satisfies it).
type KeyDeriver interface {
	DeriveAll(purpose string) ([][]byte, error)
}

// Capabilities mints operation capabilities with its first key and accepts
// those of any of its keys.
type Capabilities struct{ keys []CapabilityKey }

// LogValue keeps the keys out of logs.
func (*Capabilities) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// NewCapabilities derives the capability keys from the KEK ring.
func NewCapabilities(d KeyDeriver) (*Capabilities, error) {
	raw, err := d.DeriveAll(CapabilityPurpose)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errors.New("txsign: no key to derive operation capabilities from")
	}
	c := &Capabilities{}
	for _, b := range raw {
		if len(b) != 32 {
			return nil, errors.New("txsign: an operation capability key must be 32 bytes")
		}
		var k CapabilityKey
		copy(k.k[:], b)
		c.keys = append(c.keys, k)
	}
	return c, nil
}

// RandomCapabilities is a key of this process only: capabilities it mints
// mean nothing to another process or after a restart. For tests and tools;
// a server derives its key from the KEK (NewCapabilities).
func RandomCapabilities() *Capabilities {
	var k CapabilityKey
	_, _ = rand.Read(k.k[:])
	return &Capabilities{keys: []CapabilityKey{k}}
}

// Mint returns the capability of operation opID.
func (c *Capabilities) Mint(opID string) string {
	return base64.RawURLEncoding.EncodeToString(c.keys[0].mac(opID))
}

// Check returns nil when presented is the capability of operation opID, and
// a *CapabilityError (a fault.ErrNotFound) otherwise. The comparison is in
// constant time (crypto/subtle) over the decoded MAC, against every key.
func (c *Capabilities) Check(opID, presented string) error {
	if presented == "" {
		return &CapabilityError{Reason: "missing capability"}
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(presented)
	if err != nil || len(got) != capabilitySize {
		return &CapabilityError{Reason: "malformed capability"}
	}
	ok := 0
	for _, k := range c.keys {
		ok |= subtle.ConstantTimeCompare(got, k.mac(opID))
	}
	if ok != 1 {
		return &CapabilityError{Reason: "capability does not match the operation"}
	}
	return nil
}

// CapabilityError is a refused capability. To the caller it is exactly an
// unknown operation (fault.ErrNotFound, the same message), so a request
// without the right capability learns nothing, not even whether the id
// exists; Reason says why, for the log.
type CapabilityError struct{ Reason string }

// Error is the message of an unknown operation (Service.Get).
func (e *CapabilityError) Error() string { return fault.ErrNotFound.Error() + ": operation" }

// Unwrap makes the refusal a fault.ErrNotFound with the public message of an
// unknown operation.
func (e *CapabilityError) Unwrap() error { return errUnknownOperation }

var errUnknownOperation = fault.New(fault.ErrNotFound, "operation")

// Capability returns the capability of operation opID: it goes to the bank
// (private API) and from there to the user, never to anyone else.
func (s *Service) Capability(opID string) string { return s.caps.Mint(opID) }

// CheckCapability returns nil when presented is operation opID's capability,
// and otherwise an error that reads exactly like an unknown operation.
func (s *Service) CheckCapability(opID, presented string) error { return s.caps.Check(opID, presented) }
