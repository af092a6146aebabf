package webauthn

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/signet-sca/signet/fault"
)

// The passcode travels from the browser to Signet with HPKE (RFC 9180) in base
// mode: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM. The recipient key
// pair is derived deterministically from the KEK (RFC 9180 §7.1.3 DeriveKeyPair
// over a KEK subkey), so every replica holds the same key without storing it,
// and a ceremony remembers which KEK it was begun with so a rotation in flight
// does not break it.
const (
	HPKEKEMID   = 0x0010 // DHKEM(P-256, HKDF-SHA256), RFC 9180 §7.1
	HPKEKDFID   = 0x0001 // HKDF-SHA256, §7.2
	HPKEAEADID  = 0x0001 // AES-128-GCM, §7.3
	hpkePurpose = "passcode-hpke"
	infoPrefix  = "signet-passcode-v1"
	encLen      = 65 // Nenc of DHKEM(P-256): an uncompressed point
	tagLen      = 16
)

// Fields a passcode ciphertext may be for; each is bound into the HPKE info.
const (
	FieldPasscode    = "passcode"
	FieldNewPasscode = "new_passcode"
)

// PasscodeKey is the published HPKE recipient key.
type PasscodeKey struct {
	KEMID     uint16 `json:"kem_id"`
	KDFID     uint16 `json:"kdf_id"`
	AEADID    uint16 `json:"aead_id"`
	PublicKey string `json:"public_key"` // base64url of the 65-byte uncompressed P-256 point
	KeyID     string `json:"key_id"`     // hex id of the KEK it derives from
}

// hpkeEntry is the passcode key derived from one KEK: its private half and
// what GET /v1/web/passcode-key publishes of it.
type hpkeEntry struct {
	priv hpke.PrivateKey
	pub  PasscodeKey
}

// hpkeKeyFor returns the passcode key derived from the KEK with id, derived
// once per process (Service.hpke).
func (s *Service) hpkeKeyFor(id [4]byte) (*hpkeEntry, error) {
	if e, ok := s.hpke.Load(id); ok {
		return e.(*hpkeEntry), nil
	}
	ikm, err := s.subkey(id, hpkePurpose)
	if err != nil {
		return nil, err
	}
	k, err := hpke.DHKEM(ecdh.P256()).DeriveKeyPair(ikm)
	if err != nil {
		return nil, err
	}
	e := &hpkeEntry{priv: k, pub: PasscodeKey{KEMID: HPKEKEMID, KDFID: HPKEKDFID, AEADID: HPKEAEADID,
		PublicKey: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), KeyID: hex.EncodeToString(id[:])}}
	got, _ := s.hpke.LoadOrStore(id, e)
	return got.(*hpkeEntry), nil
}

func (s *Service) hpkeKey(id [4]byte) (hpke.PrivateKey, error) {
	e, err := s.hpkeKeyFor(id)
	if err != nil {
		return nil, err
	}
	return e.priv, nil
}

// currentPasscodeKey returns the key derived from the first KEK and its id.
func (s *Service) currentPasscodeKey() (PasscodeKey, [4]byte, error) {
	id, err := s.currentKEKID()
	if err != nil {
		return PasscodeKey{}, id, err
	}
	e, err := s.hpkeKeyFor(id)
	if err != nil {
		return PasscodeKey{}, id, err
	}
	return e.pub, id, nil
}

// subkeyID names a derived subkey: its purpose and the KEK it comes from.
type subkeyID struct {
	purpose string
	kek     [4]byte
}

// subkey is Keys.DeriveWith, derived once per process (Service.subkeys).
func (s *Service) subkey(id [4]byte, purpose string) ([]byte, error) {
	if k, ok := s.subkeys.Load(subkeyID{purpose, id}); ok {
		return k.([]byte), nil
	}
	k, err := s.keys.DeriveWith(id, purpose)
	if err != nil {
		return nil, err
	}
	s.subkeys.Store(subkeyID{purpose, id}, k)
	return k, nil
}

// currentKEKID is the id of the first KEK, the one new verifiers and
// ceremonies use, asked of Keys once.
func (s *Service) currentKEKID() ([4]byte, error) {
	if id := s.currentKEK.Load(); id != nil {
		return *id, nil
	}
	_, id, err := s.keys.Derive(hpkePurpose)
	if err != nil {
		return id, err
	}
	s.currentKEK.Store(&id)
	return id, nil
}

// PasscodeKey returns the current published passcode key (GET /v1/web/passcode-key).
func (s *Service) PasscodeKey() (PasscodeKey, error) {
	k, _, err := s.currentPasscodeKey()
	return k, err
}

// PasscodeInfo is the HPKE info of a passcode ciphertext (RFC 9180 §5.1):
//
//	"signet-passcode-v1" ‖ LP(ceremony id) ‖ LP(challenge) ‖ LP(field)
//
// with LP = 4-byte big-endian length ‖ bytes. The ceremony id and its WebAuthn
// challenge (for an approval, the operation's DL) make a captured ciphertext
// useless in any other ceremony; the field keeps the old and new passcode of a
// change from being swapped.
func PasscodeInfo(ceremonyID string, challenge []byte, field string) []byte {
	out := []byte(infoPrefix)
	for _, part := range [][]byte{[]byte(ceremonyID), challenge, []byte(field)} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(part)))
		out = append(out, part...)
	}
	return out
}

// Envelope is an HPKE single-shot ciphertext: the encapsulated key and the
// AEAD ciphertext of the passcode digits (sequence number 0, empty aad).
type Envelope struct {
	Enc        []byte
	Ciphertext []byte
}

type envelopeJSON struct {
	Enc string `json:"enc"`
	CT  string `json:"ct"`
}

// ParseEnvelope parses an untrusted passcode envelope
// {"enc": base64url(65 bytes), "ct": base64url(ciphertext)}: strict JSON, no
// unknown fields, an uncompressed point and a ciphertext that can hold 6 to 12
// digits.
func ParseEnvelope(raw []byte) (Envelope, error) {
	bad := func(reason string) (Envelope, error) { return Envelope{}, fault.Invalid("passcode", "%s", reason) }
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return bad("is required")
	}
	if len(raw) > 1024 {
		return bad("is too large")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var e envelopeJSON
	if err := dec.Decode(&e); err != nil {
		return bad(`must be an object {"enc","ct"} of base64url strings`)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("unexpected data after the object")
	}
	enc, err1 := base64.RawURLEncoding.DecodeString(e.Enc)
	ct, err2 := base64.RawURLEncoding.DecodeString(e.CT)
	switch {
	case err1 != nil || len(enc) != encLen || enc[0] != 4:
		return bad("enc must be base64url of an uncompressed P-256 point (65 bytes)")
	case err2 != nil || len(ct) < MinPasscodeLen+tagLen || len(ct) > MaxPasscodeLen+tagLen:
		return bad("ct must be base64url of an AES-128-GCM ciphertext of 6 to 12 digits")
	}
	return Envelope{Enc: enc, Ciphertext: ct}, nil
}

var errDecrypt = errors.New("passcode ciphertext does not decrypt for this ceremony")

// openPasscode decrypts an envelope with the key of KEK kekID under info
// (RFC 9180 §6.1 single-shot Open). The plaintext is the passcode's ASCII digits.
func (s *Service) openPasscode(kekID [4]byte, info []byte, env Envelope) ([]byte, error) {
	k, err := s.hpkeKey(kekID)
	if err != nil {
		return nil, fmt.Errorf("passcode key: %w", err)
	}
	r, err := hpke.NewRecipient(env.Enc, k, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		return nil, errDecrypt
	}
	pt, err := r.Open(nil, env.Ciphertext)
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}

func parseKEKID(s string) ([4]byte, error) {
	var id [4]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return id, errors.New("ceremony has no valid key id")
	}
	copy(id[:], b)
	return id, nil
}
