package webauthn

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// passkeyData is a passkey's public state in store.Credential.Data.
type passkeyData struct {
	AAGUID            string   `json:"aaguid"`
	Algorithm         string   `json:"alg,omitempty"`
	AttestationType   string   `json:"attestation_type,omitempty"`
	AttestationFormat string   `json:"attestation_format,omitempty"`
	Transports        []string `json:"transports,omitempty"`
	Attachment        string   `json:"attachment,omitempty"`
	// Backup flags (WebAuthn L3 §6.1.3): BE is fixed at registration; BS is
	// updated from every assertion.
	BackupEligible bool `json:"backup_eligible"`
	BackupState    bool `json:"backup_state"`
	// UserVerified at registration only; approvals read UV per assertion.
	UserVerifiedAtRegistration bool  `json:"uv_at_registration"`
	Discoverable               *bool `json:"discoverable,omitempty"`
}

func decodePasskeyData(b []byte) passkeyData {
	var d passkeyData
	_ = json.Unmarshal(b, &d)
	return d
}

// lookupKey is the unique handle of a passkey: base64url of its credential id.
// The store's unique (kind, lookup_key) index makes credential ids unique across
// all users (WebAuthn L3 §7.1 step 22).
func lookupKey(credentialID []byte) string {
	return base64.RawURLEncoding.EncodeToString(credentialID)
}

// libraryCredential rebuilds the go-webauthn view of a stored passkey.
func libraryCredential(c store.Credential) (gowebauthn.Credential, bool) {
	id, err := base64.RawURLEncoding.DecodeString(c.LookupKey)
	if err != nil || len(id) == 0 || c.Kind != store.KindPasskey {
		return gowebauthn.Credential{}, false
	}
	d := decodePasskeyData(c.Data)
	var aaguid []byte
	if u, err := uuid.Parse(d.AAGUID); err == nil {
		aaguid = u[:]
	}
	var transports []protocol.AuthenticatorTransport
	for _, t := range d.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return gowebauthn.Credential{
		ID: id, PublicKey: c.PublicKey, AttestationType: d.AttestationType, AttestationFormat: d.AttestationFormat,
		Transport: transports,
		Flags: gowebauthn.CredentialFlags{UserPresent: true, UserVerified: d.UserVerifiedAtRegistration,
			BackupEligible: d.BackupEligible, BackupState: d.BackupState},
		Authenticator: gowebauthn.Authenticator{AAGUID: aaguid, SignCount: uint32(min(max(c.Counter, 0), 1<<32-1))},
	}, true
}

// waUser adapts a store user and its passkeys to go-webauthn's User.
type waUser struct {
	u     store.User
	creds []gowebauthn.Credential
}

func newWAUser(u store.User, creds []store.Credential) *waUser {
	w := &waUser{u: u}
	for _, c := range creds {
		if lc, ok := libraryCredential(c); ok {
			w.creds = append(w.creds, lc)
		}
	}
	return w
}

func (w *waUser) WebAuthnID() []byte { return w.u.WebAuthnID }
func (w *waUser) WebAuthnName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.ExternalID
}
func (w *waUser) WebAuthnDisplayName() string                  { return w.WebAuthnName() }
func (w *waUser) WebAuthnCredentials() []gowebauthn.Credential { return w.creds }

func (w *waUser) descriptors() []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, len(w.creds))
	for i := range w.creds {
		out[i] = w.creds[i].Descriptor()
	}
	return out
}

// coseAlgorithm names the COSE algorithm of a credential public key (RFC 9053).
func coseAlgorithm(pub []byte) string {
	var k webauthncose.PublicKeyData
	if err := webauthncbor.Unmarshal(pub, &k); err != nil {
		return ""
	}
	switch webauthncose.COSEAlgorithmIdentifier(k.Algorithm) {
	case webauthncose.AlgES256:
		return "ES256"
	case webauthncose.AlgEdDSA:
		return "EdDSA"
	case webauthncose.AlgRS256:
		return "RS256"
	}
	return ""
}

// registrationParameters offers ES256, EdDSA and RS256, in that order of
// preference (WebAuthn L3 §5.4 pubKeyCredParams; COSE -7, -8, -257).
func registrationParameters() []protocol.CredentialParameter {
	out := []protocol.CredentialParameter{}
	for _, a := range []webauthncose.COSEAlgorithmIdentifier{webauthncose.AlgES256, webauthncose.AlgEdDSA, webauthncose.AlgRS256} {
		out = append(out, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: a})
	}
	return out
}

// PasskeyView is what a user sees of one of their passkeys.
type PasskeyView struct {
	ID             string     `json:"id"`
	Label          string     `json:"label"`
	Status         string     `json:"status"`
	BlockReason    string     `json:"block_reason,omitempty"`
	AAGUID         string     `json:"aaguid,omitempty"`
	Algorithm      string     `json:"alg,omitempty"`
	BackupEligible bool       `json:"backup_eligible"`
	BackupState    bool       `json:"backup_state"`
	Transports     []string   `json:"transports,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty"`
}

func passkeyView(c store.Credential) PasskeyView {
	d := decodePasskeyData(c.Data)
	return PasskeyView{ID: c.ID, Label: c.Label, Status: string(c.Status), BlockReason: string(c.BlockReason),
		AAGUID: d.AAGUID, Algorithm: d.Algorithm, BackupEligible: d.BackupEligible, BackupState: d.BackupState,
		Transports: d.Transports, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
}

// checkLabel validates a user-chosen passkey label.
func checkLabel(label string) (string, error) {
	label = strings.TrimSpace(label)
	var c fault.Collector
	c.Check(utf8.ValidString(label) && strings.IndexFunc(label, unicode.IsControl) < 0, "label", "must not contain control characters")
	c.Check(utf8.RuneCountInString(label) <= 64, "label", "must be at most 64 characters")
	return label, c.Err()
}
