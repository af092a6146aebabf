// Package devicekey enrols device keys (Midships-style transaction signing):
// the bank issues a single-use registration code, the app registers the P-256
// public key from its secure enclave with device metadata, and the credential
// joins the one credential store as kind device_key.
package devicekey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Store is the part of store.Store this service uses.
type Store interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	CreateCeremony(ctx context.Context, c *store.Ceremony) error
	GetCeremonyByLookupKey(ctx context.Context, kind, key string) (store.Ceremony, error)
	UpdateCeremony(ctx context.Context, id string, fn func(*store.Ceremony) error) (store.Ceremony, error)
	ConsumeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error)
	CreateCredential(ctx context.Context, c *store.Credential) error
}

// Registration-code policy.
const (
	CodeTTL         = 10 * time.Minute
	MaxCodeAttempts = 5
	ceremonyKind    = "registration_code"
	// DefaultMaxFailures bounds bad signatures before a device key is BLOCKED.
	DefaultMaxFailures = 5
)

// Service issues registration codes and registers device keys.
type Service struct {
	store  Store
	audit  *audit.Log
	now    func() time.Time
	policy AttestationPolicy
}

// AttestationPolicy is what the bank requires of device-key attestation.
type AttestationPolicy struct {
	Android attest.AndroidPolicy
	Apple   attest.ApplePolicy
	// Required refuses registrations without a platform attestation.
	Required bool
}

// SetAttestationPolicy sets the attestation policy (before the service is used).
func (s *Service) SetAttestationPolicy(p AttestationPolicy) { s.policy = p }

// New returns the service; now may be nil.
func New(s Store, a *audit.Log, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, audit: a, now: now}
}

// A registration code is 20 characters of Crockford-free Base32 (RFC 4648
// alphabet) in groups of four: the first 8 name the code (40 bits, the lookup
// key), the last 12 are its secret (60 bits, stored only as a SHA-256 hash).
// Naming the code lets wrong secrets be counted, so 5 wrong tries burn it.
var codeEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

type codeData struct {
	SecretHash []byte `json:"secret_hash"`
}

// IssueCode creates a registration code for a user.
func (s *Service) IssueCode(ctx context.Context, actor, userID string) (string, time.Time, error) {
	if !store.ValidID(userID) {
		return "", time.Time{}, fault.Invalid("id", "is not a valid identifier")
	}
	if _, err := s.store.GetUser(ctx, userID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", time.Time{}, fault.New(fault.ErrNotFound, "user")
		}
		return "", time.Time{}, err
	}
	raw := make([]byte, 15)
	_, _ = rand.Read(raw)
	enc := codeEnc.EncodeToString(raw)[:20]
	lookup, secret := enc[:8], enc[8:]
	sum := sha256.Sum256([]byte(secret))
	data, _ := json.Marshal(codeData{SecretHash: sum[:]})
	now := s.now().UTC()
	c := &store.Ceremony{ID: uuid.NewString(), Kind: ceremonyKind, LookupKey: lookup, UserID: userID, Data: data,
		ExpiresAt: now.Add(CodeTTL), CreatedAt: now}
	if err := s.store.CreateCeremony(ctx, c); err != nil {
		return "", time.Time{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "device.registration_code.issue", Outcome: audit.Success,
		Actor: actor, UserID: userID}); err != nil {
		return "", time.Time{}, err
	}
	return formatCode(enc), c.ExpiresAt, nil
}

func formatCode(s string) string {
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20]
}

// parseCode accepts the code with or without dashes or spaces, any case.
func parseCode(code string) (lookup, secret string, ok bool) {
	s := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(s) != 20 {
		return "", "", false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z') && !(r >= '2' && r <= '7') {
			return "", "", false
		}
	}
	return s[:8], s[8:], true
}

// CodeLookup returns the public lookup part of a registration code (the part that names it,
// not its secret), for a per-code rate limit; ok is false for a malformed code.
func CodeLookup(code string) (lookup string, ok bool) {
	lookup, _, ok = parseCode(code)
	return lookup, ok
}

// Registration is what the app sends.
type Registration struct {
	Code       string
	PublicKey  json.RawMessage // JWK, EC P-256
	Label      string
	Platform   string
	Model      string
	OSVersion  string
	AppVersion string
	// Attestation is the platform's proof about the key (nil: none).
	Attestation *Attestation
}

// Attestation is what the app sends to prove where its key lives.
type Attestation struct {
	// Format is attest.FormatAndroidKey or attest.FormatAppleAppAtt.
	Format string
	// CertificateChain (android-key): the key's attestation chain, DER, leaf first
	// (KeyStore.getCertificateChain of the device key, generated with AttestationChallenge).
	CertificateChain [][]byte
	// KeyID and Object (apple-appattest): the App Attest key identifier and the attestation
	// object of DCAppAttestService.attestKey over AppAttestClientDataHash.
	KeyID  []byte
	Object []byte
}

// maxChainBytes bounds an attestation's total size.
const maxChainBytes = 32 << 10

func (a *Attestation) validate(c *fault.Collector) {
	if a == nil {
		return
	}
	n := len(a.Object) + len(a.KeyID)
	for _, der := range a.CertificateChain {
		n += len(der)
	}
	c.Check(n <= maxChainBytes, "attestation", "must be at most %d bytes", maxChainBytes)
	switch a.Format {
	case attest.FormatAndroidKey:
		c.Check(len(a.CertificateChain) >= 2 && len(a.CertificateChain) <= 10, "attestation.certificate_chain", "must hold 2 to 10 certificates, leaf first")
		c.Check(len(a.Object) == 0 && len(a.KeyID) == 0, "attestation", "android-key takes only certificate_chain")
	case attest.FormatAppleAppAtt:
		c.Check(len(a.KeyID) == 32, "attestation.key_id", "must be the 32-byte App Attest key identifier")
		c.Check(len(a.Object) > 0, "attestation.object", "is required for apple-appattest")
		c.Check(len(a.CertificateChain) == 0, "attestation", "apple-appattest takes key_id and object")
	default:
		c.Add("attestation.format", "must be %s or %s", attest.FormatAndroidKey, attest.FormatAppleAppAtt)
	}
}

// AttestationChallenge is the registration code's server challenge: the attestationChallenge
// of the Android key, the challenge under the App Attest client data. It is
// SHA-256("signet-device-attestation-v1" ‖ 0x00 ‖ the 20 code characters, upper case, no
// dashes): the app computes it from the code it was given, and a code is random and single-use,
// so an attestation made for one registration cannot serve another. nil for a malformed code.
func AttestationChallenge(code string) []byte {
	lookup, secret, ok := parseCode(code)
	if !ok {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("signet-device-attestation-v1\x00"))
	h.Write([]byte(lookup + secret))
	return h.Sum(nil)
}

// AppAttestClientDataHash is the clientDataHash an iOS app passes to attestKey: SHA-256 of the
// challenge and the device key's PKIX (SubjectPublicKeyInfo) DER, binding the device key to
// the attested app instance.
func AppAttestClientDataHash(challenge, devicePublicKeyPKIX []byte) []byte {
	h := sha256.Sum256(append(append([]byte(nil), challenge...), devicePublicKeyPKIX...))
	return h[:]
}

// CredentialData is a device key's public state (store.Credential.Data).
type CredentialData struct {
	Assurance   attest.Assurance   `json:"assurance"`
	Attestation *StoredAttestation `json:"attestation,omitempty"`
}

// StoredAttestation keeps the attestation as received, so a dispute can re-verify it offline.
type StoredAttestation struct {
	Format           string   `json:"format"`
	CertificateChain [][]byte `json:"certificate_chain,omitempty"`
	KeyID            []byte   `json:"key_id,omitempty"`
	Object           []byte   `json:"object,omitempty"`
	// AppAttestKey (PKIX DER) and AppID verify App Attest assertions on approvals.
	AppAttestKey []byte `json:"app_attest_key,omitempty"`
	AppID        string `json:"app_id,omitempty"`
}

// DecodeData reads a device key's CredentialData; a credential registered before attestation
// existed, or without one, reads as unattested.
func DecodeData(raw []byte) CredentialData {
	var d CredentialData
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &d)
	}
	if d.Assurance.UserVerification == "" {
		d.Assurance.UserVerification = attest.UVNotProven
	}
	return d
}

// Device is the metadata stored with the credential.
type Device struct {
	Platform   string `json:"platform,omitempty"`
	Model      string `json:"model,omitempty"`
	OSVersion  string `json:"os_version,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
}

func (r Registration) validate() (*ecdsa.PublicKey, error) {
	var c fault.Collector
	c.Check(r.Code != "", "registration_code", "is required")
	pub, err := ParseJWK(r.PublicKey)
	c.Merge("public_key", err)
	for field, v := range map[string]string{"label": r.Label, "platform": r.Platform, "model": r.Model,
		"os_version": r.OSVersion, "app_version": r.AppVersion} {
		c.Check(utf8.RuneCountInString(v) <= 64, field, "must be at most 64 characters")
		c.Check(strings.IndexFunc(v, unicode.IsControl) < 0 && utf8.ValidString(v), field, "must not contain control characters")
	}
	r.Attestation.validate(&c)
	return pub, c.Err()
}

// errBadCode is the one answer for every way a code can be wrong: unknown,
// expired, used, burned or mistyped.
var errBadCode = fault.New(fault.ErrUnauthenticated, "the registration code is invalid, expired or already used")

// Register consumes a registration code and creates an ACTIVE device key.
func (s *Service) Register(ctx context.Context, r Registration) (store.Credential, error) {
	pub, err := r.validate()
	if err != nil {
		return store.Credential{}, err
	}
	if s.policy.Required && r.Attestation == nil {
		return store.Credential{}, fault.Invalid("attestation", "is required: the bank accepts only device keys with a platform attestation (docs/device-keys.md)")
	}
	ev := audit.Event{Type: "device.register", Actor: "device"}
	fail := func(reason string) (store.Credential, error) {
		ev.Outcome, ev.Reason = audit.Failure, reason
		if err := s.audit.Record(ctx, ev); err != nil {
			return store.Credential{}, err
		}
		return store.Credential{}, errBadCode
	}
	// A malformed or unknown code names nothing real: not audited, counted by the server
	// (audit.UnrecordedError). A real code with a wrong secret is audited below.
	lookup, secret, ok := parseCode(r.Code)
	if !ok {
		return store.Credential{}, audit.Unrecorded(audit.UnknownRegistrationCode, errBadCode)
	}
	cer, err := s.store.GetCeremonyByLookupKey(ctx, ceremonyKind, lookup)
	if errors.Is(err, store.ErrNotFound) {
		return store.Credential{}, audit.Unrecorded(audit.UnknownRegistrationCode, errBadCode)
	} else if err != nil {
		return store.Credential{}, err
	}
	ev.UserID = cer.UserID
	now := s.now().UTC()
	if cer.ConsumedAt != nil || !now.Before(cer.ExpiresAt) {
		return fail("registration code expired, used or burned")
	}
	var data codeData
	_ = json.Unmarshal(cer.Data, &data)
	sum := sha256.Sum256([]byte(secret))
	countTry := func() error {
		// Count the wrong try before answering; a try that cannot be counted
		// is answered with the store's error, so guesses stay bounded.
		_, err := s.store.UpdateCeremony(ctx, cer.ID, func(c *store.Ceremony) error {
			c.Attempts++
			if c.Attempts >= MaxCodeAttempts && c.ConsumedAt == nil {
				c.ConsumedAt = &now // burned
			}
			return nil
		})
		return err
	}
	if subtle.ConstantTimeCompare(sum[:], data.SecretHash) != 1 {
		if err := countTry(); err != nil {
			return store.Credential{}, err
		}
		return fail("wrong registration code secret")
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	credData, err := s.attest(ctx, r, pub, der, now)
	if err != nil {
		// The code was right: the app may learn why its key was refused. The try counts, so a
		// code cannot be used to probe the policy without bound.
		if cerr := countTry(); cerr != nil {
			return store.Credential{}, cerr
		}
		ev.Outcome, ev.Reason = audit.Failure, "attestation refused: "+attest.ReasonOf(err)
		ev.Evidence = map[string]any{"detail": err.Error(), "format": r.Attestation.Format}
		if aerr := s.audit.Record(ctx, ev); aerr != nil {
			return store.Credential{}, aerr
		}
		// The refusal names what the app's own attestation lacks: safe to show it.
		public := "the key attestation was refused"
		var ref *attest.Refusal
		if errors.As(err, &ref) {
			public = "attestation refused (" + ref.Reason + "): " + ref.Detail
		}
		return store.Credential{}, fault.Wrap(fault.ErrForbidden, err, "%s", public)
	}
	if _, err := s.store.ConsumeCeremony(ctx, cer.ID, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail("registration code used concurrently")
		}
		return store.Credential{}, err
	}
	meta, _ := json.Marshal(Device{Platform: r.Platform, Model: r.Model, OSVersion: r.OSVersion, AppVersion: r.AppVersion})
	label := r.Label
	if label == "" {
		label = strings.TrimSpace(r.Platform + " " + r.Model)
	}
	cred := store.Credential{ID: uuid.NewString(), UserID: cer.UserID, Kind: store.KindDeviceKey, Status: store.StatusCreated,
		MaxFailedAttempts: DefaultMaxFailures, Label: label, LookupKey: keyID(der), PublicKey: der, Device: meta, Data: credData, CreatedAt: now}
	if err := cred.Transition(store.StatusActive, store.ReasonNone, now); err != nil {
		return store.Credential{}, err
	}
	if err := s.store.CreateCredential(ctx, &cred); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			ev.Outcome, ev.Reason = audit.Failure, "public key already registered"
			_ = s.audit.Record(ctx, ev)
			return store.Credential{}, fault.New(fault.ErrConflict, "this public key is already registered")
		}
		return store.Credential{}, err
	}
	ev.Outcome, ev.CredentialID = audit.Success, cred.ID
	ev.Evidence = map[string]any{"public_key": base64.RawURLEncoding.EncodeToString(der), "device": json.RawMessage(meta),
		"credential_data": json.RawMessage(credData)}
	if err := s.audit.Record(ctx, ev); err != nil {
		return store.Credential{}, err
	}
	return cred, nil
}

// attest verifies the registration's attestation, if any, and returns the credential data.
func (s *Service) attest(ctx context.Context, r Registration, pub *ecdsa.PublicKey, der []byte, now time.Time) ([]byte, error) {
	d := CredentialData{Assurance: attest.Assurance{UserVerification: attest.UVNotProven}}
	if a := r.Attestation; a != nil {
		challenge := AttestationChallenge(r.Code)
		switch a.Format {
		case attest.FormatAndroidKey:
			res, err := attest.VerifyAndroid(ctx, a.CertificateChain, challenge, s.policy.Android, now)
			if err != nil {
				return nil, err
			}
			if !res.PublicKey.Equal(pub) {
				return nil, &attest.Refusal{Reason: attest.ReasonKeyMismatch, Detail: "the attested key is not public_key"}
			}
			d.Assurance = res.Assurance
			d.Attestation = &StoredAttestation{Format: a.Format, CertificateChain: a.CertificateChain}
		case attest.FormatAppleAppAtt:
			res, err := attest.VerifyAppAttest(ctx, a.Object, a.KeyID, AppAttestClientDataHash(challenge, der), s.policy.Apple, now)
			if err != nil {
				return nil, err
			}
			aak, _ := x509.MarshalPKIXPublicKey(res.PublicKey)
			d.Assurance = res.Assurance
			d.Attestation = &StoredAttestation{Format: a.Format, KeyID: a.KeyID, Object: a.Object, AppAttestKey: aak, AppID: res.Assurance.AppID}
		}
	}
	return json.Marshal(d)
}

// keyID is the unique lookup key of a device public key: SHA-256 of its PKIX
// encoding, so one key cannot be registered twice.
func keyID(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseJWK parses an untrusted EC P-256 public JWK (RFC 7517, RFC 7518 §6.2.1):
// kty "EC", crv "P-256", 32-byte x and y that form a point on the curve. A
// private member "d" is refused: the private key never leaves the device.
func ParseJWK(raw json.RawMessage) (*ecdsa.PublicKey, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fault.Invalid("public_key", "is required (a JWK with kty EC and crv P-256)")
	}
	var j struct {
		Kty, Crv, X, Y, Alg, Use string
		D                        *string `json:"d"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fault.Invalid("public_key", "must be a JWK object")
	}
	switch {
	case j.Kty != "EC" || j.Crv != "P-256":
		return nil, fault.Invalid("public_key", "must be kty EC with crv P-256")
	case j.D != nil:
		return nil, fault.Invalid("public_key", "must not contain the private key (d)")
	case j.Alg != "" && j.Alg != "ES256":
		return nil, fault.Invalid("public_key", "alg must be ES256 when present")
	}
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fault.Invalid("public_key", "x and y must be base64url of 32 bytes each")
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fault.Invalid("public_key", "is not a point on P-256")
	}
	return pub, nil
}
