package webauthn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/crypto/argon2"

	"github.com/signet-sca/signet/fault"
)

// Passcode is the user's knowledge factor in clear, only ever held in memory
// between HPKE decryption and the Argon2id computation. It never prints.
type Passcode []byte

// String keeps the passcode out of formatted output.
func (Passcode) String() string { return "[redacted]" }

// GoString keeps the passcode out of %#v.
func (Passcode) GoString() string { return "[redacted]" }

// LogValue keeps the passcode out of logs.
func (Passcode) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Passcode length bounds.
const (
	MinPasscodeLen = 6
	MaxPasscodeLen = 12
)

// ParsePasscode checks the format of a passcode being verified: 6 to 12
// ASCII digits. It applies no strength policy: a weak passcode set long ago
// must still verify (CheckPasscodePolicy is for new passcodes).
func ParsePasscode(b []byte) (Passcode, error) {
	if len(b) < MinPasscodeLen || len(b) > MaxPasscodeLen {
		return nil, fault.Invalid("passcode", "must be %d to %d digits", MinPasscodeLen, MaxPasscodeLen)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return nil, fault.Invalid("passcode", "must contain digits only")
		}
	}
	return Passcode(append([]byte(nil), b...)), nil
}

// CheckPasscodePolicy is the policy for a new passcode: 6 to 12 digits, not
// all the same digit, not a straight ascending or descending run (123456,
// 987654, also wrapping: 890123).
func CheckPasscodePolicy(b []byte) (Passcode, error) {
	p, err := ParsePasscode(b)
	if err != nil {
		return nil, err
	}
	same, up, down := true, true, true
	for i := 1; i < len(p); i++ {
		d := (int(p[i]) - int(p[i-1]) + 10) % 10
		same = same && d == 0
		up = up && d == 1
		down = down && d == 9
	}
	switch {
	case same:
		return nil, fault.Invalid("passcode", "must not be the same digit repeated")
	case up || down:
		return nil, fault.Invalid("passcode", "must not be a straight run of consecutive digits, ascending or descending")
	}
	return p, nil
}

// Argon2Params are the Argon2id cost parameters (RFC 9106 §3.1; OWASP's
// minimum for Argon2id is m=19 MiB, t=2, p=1).
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2Params returns m=19 MiB, t=2, p=1.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}
}

func (p Argon2Params) validate() error {
	if p.MemoryKiB < 1024 || p.MemoryKiB > 4<<20 || p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.Threads > 16 {
		return fmt.Errorf("argon2id parameters out of range (memory 1024..4194304 KiB, time 1..16, threads 1..16): %+v", p)
	}
	return nil
}

// Verifier layout (all integers big-endian):
//
//	version(1)=1 ‖ KEK id(4) ‖ memory KiB(4) ‖ time(4) ‖ threads(1) ‖ salt(16) ‖ Argon2id output(32)
//
// The Argon2id password is HMAC-SHA256(pepper, passcode) where the pepper is
// derived from the KEK named by the id (purpose "passcode-pepper"): a copy of
// the database alone gives no way to test the 10^6 six-digit candidates.
const (
	verifierVersion = 1
	saltLen         = 16
	hashLen         = 32
	verifierLen     = 1 + 4 + 4 + 4 + 1 + saltLen + hashLen
	pepperPurpose   = "passcode-pepper"
)

type verifier struct {
	kekID  [4]byte
	params Argon2Params
	salt   []byte
	hash   []byte
}

var errBadVerifier = errors.New("passcode verifier is malformed")

func parseVerifier(b []byte) (verifier, error) {
	if len(b) != verifierLen || b[0] != verifierVersion {
		return verifier{}, errBadVerifier
	}
	var v verifier
	copy(v.kekID[:], b[1:5])
	v.params = Argon2Params{MemoryKiB: binary.BigEndian.Uint32(b[5:9]), Time: binary.BigEndian.Uint32(b[9:13]), Threads: b[13]}
	if v.params.validate() != nil {
		return verifier{}, errBadVerifier
	}
	v.salt = append([]byte(nil), b[14:14+saltLen]...)
	v.hash = append([]byte(nil), b[14+saltLen:]...)
	return v, nil
}

func (v verifier) bytes() []byte {
	out := make([]byte, 0, verifierLen)
	out = append(out, verifierVersion)
	out = append(out, v.kekID[:]...)
	out = binary.BigEndian.AppendUint32(out, v.params.MemoryKiB)
	out = binary.BigEndian.AppendUint32(out, v.params.Time)
	out = append(out, v.params.Threads)
	out = append(out, v.salt...)
	return append(out, v.hash...)
}

func argon2Hash(pepper []byte, p Passcode, salt []byte, params Argon2Params) []byte {
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte("signet-passcode-v1"))
	mac.Write(p)
	pw := mac.Sum(nil)
	return argon2.IDKey(pw, salt, params.Time, params.MemoryKiB, params.Threads, hashLen)
}

// newVerifier computes a fresh verifier for p with the current KEK and
// parameters. The caller holds a hashing slot (Argon2Gate).
func (s *Service) newVerifier(p Passcode) ([]byte, error) {
	id, err := s.currentKEKID()
	if err != nil {
		return nil, err
	}
	pepper, err := s.subkey(id, pepperPurpose)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	v := verifier{kekID: id, params: s.cfg.Argon2, salt: salt, hash: s.gate.hash(pepper, p, salt, s.cfg.Argon2)}
	return v.bytes(), nil
}

// matchVerifier reports whether p matches the stored verifier, and whether
// the verifier should be recomputed (older KEK or parameters). The caller
// holds a hashing slot (Argon2Gate).
func (s *Service) matchVerifier(stored []byte, p Passcode) (ok, rehash bool, err error) {
	v, err := parseVerifier(stored)
	if err != nil {
		return false, false, err
	}
	pepper, err := s.subkey(v.kekID, pepperPurpose)
	if err != nil {
		return false, false, fmt.Errorf("passcode pepper: %w", err)
	}
	got := s.gate.hash(pepper, p, v.salt, v.params)
	if subtle.ConstantTimeCompare(got, v.hash) != 1 {
		return false, false, nil
	}
	current, err := s.currentKEKID()
	return true, err == nil && (current != v.kekID || v.params != s.cfg.Argon2), nil
}

// withSlot runs fn holding a hashing slot, waiting for one while ctx lasts.
func (s *Service) withSlot(ctx context.Context, fn func()) error {
	free, err := s.gate.acquire(ctx)
	if err != nil {
		return err
	}
	defer free()
	fn()
	return nil
}
