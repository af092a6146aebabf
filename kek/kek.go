// Package kek seals secrets at rest with AES-256-GCM under a list of
// key-encryption keys: the first encrypts, every one decrypts, so KEKs rotate
// without a flag day. It also derives purpose-bound subkeys (peppers) by HKDF.
package kek

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
)

// ErrDecrypt is returned when no KEK opens a sealed value (wrong key, tampered
// ciphertext or associated data).
var ErrDecrypt = errors.New("kek: cannot decrypt")

const (
	version = 1
	idLen   = 4
)

// key is one KEK with its short id (first bytes of SHA-256 of the key).
type key struct {
	id   [idLen]byte
	aead cipher.AEAD
	raw  []byte
}

// Ring is an ordered list of KEKs. The zero value is unusable; use New.
type Ring struct{ keys []key }

// New builds a ring from 32-byte keys; the first one encrypts.
func New(keys [][]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("kek: at least one key is required")
	}
	r := &Ring{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("kek: key %d is %d bytes, want 32", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("signet-kek-id"), k...))
		var id [idLen]byte
		copy(id[:], sum[:idLen])
		r.keys = append(r.keys, key{id: id, aead: aead, raw: append([]byte(nil), k...)})
	}
	return r, nil
}

// LogValue keeps key material out of logs.
func (r *Ring) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Seal encrypts plaintext under the first KEK, binding ad (e.g. the record id
// and purpose) so a sealed value cannot be moved to another record.
// Layout: version(1) ‖ key id(4) ‖ nonce(12) ‖ AES-256-GCM ciphertext+tag.
func (r *Ring) Seal(plaintext, ad []byte) ([]byte, error) {
	k := r.keys[0]
	out := make([]byte, 1+idLen+k.aead.NonceSize(), 1+idLen+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out[0] = version
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+idLen:]); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[1+idLen:], plaintext, ad), nil
}

// Open decrypts a value sealed by Seal with any KEK of the ring.
func (r *Ring) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+idLen || sealed[0] != version {
		return nil, ErrDecrypt
	}
	for _, k := range r.keys {
		if subtle.ConstantTimeCompare(k.id[:], sealed[1:1+idLen]) != 1 {
			continue
		}
		ns := k.aead.NonceSize()
		if len(sealed) < 1+idLen+ns+k.aead.Overhead() {
			return nil, ErrDecrypt
		}
		pt, err := k.aead.Open(nil, sealed[1+idLen:1+idLen+ns], sealed[1+idLen+ns:], ad)
		if err != nil {
			return nil, ErrDecrypt
		}
		return pt, nil
	}
	return nil, ErrDecrypt
}

// Derive returns a 32-byte subkey of the first KEK for purpose (HKDF-SHA256,
// RFC 5869) and the id of the KEK it came from, so a value keyed with it can
// later be re-derived with DeriveWith even after the KEK list rotates.
func (r *Ring) Derive(purpose string) ([]byte, [idLen]byte, error) {
	return r.derive(r.keys[0], purpose)
}

// DeriveWith re-derives purpose's subkey from the KEK with the given id.
func (r *Ring) DeriveWith(id [idLen]byte, purpose string) ([]byte, error) {
	for _, k := range r.keys {
		if k.id == id {
			b, _, err := r.derive(k, purpose)
			return b, err
		}
	}
	return nil, ErrDecrypt
}

// DeriveAll returns purpose's subkey of every KEK of the ring, the first KEK's
// first. A value that carries no KEK id (a MAC sent to a client) is minted
// with the first and checked against all, so it survives a KEK rotation.
func (r *Ring) DeriveAll(purpose string) ([][]byte, error) {
	out := make([][]byte, 0, len(r.keys))
	for _, k := range r.keys {
		b, _, err := r.derive(k, purpose)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (r *Ring) derive(k key, purpose string) ([]byte, [idLen]byte, error) {
	b, err := hkdf.Key(sha256.New, k.raw, []byte("signet-kek-derive-v1"), purpose, 32)
	return b, k.id, err
}
