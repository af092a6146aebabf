package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/signet-sca/signet/txsign"
)

// Format names the bundle version.
const Format = "signet-evidence-v1"

// SealType is the "typ" of the seal's JWS header (RFC 7515 §4.1.9), so that a seal can never be
// taken for a transaction token (txn+jwt) signed by the same key, nor the other way round.
const SealType = "signet-evidence+jws"

// MaxBundleSize bounds what Parse reads.
const MaxBundleSize = 8 << 20

// Bundle is the evidence file. Its canonical encoding (Encode) is what Signet serves and seals;
// Verify refuses any other byte sequence.
type Bundle struct {
	Format         string         `json:"format"`
	GeneratedAt    time.Time      `json:"generated_at"`
	Issuer         string         `json:"issuer"`
	Operation      Operation      `json:"operation"`
	DynamicLinking DynamicLinking `json:"dynamic_linking"`
	// Decision is the successful approve or reject audit record, repeated from Audit for reading.
	Decision   *Decision    `json:"decision,omitempty"`
	Credential *Credential  `json:"credential,omitempty"`
	Token      *Token       `json:"token,omitempty"`
	Keys       []txsign.JWK `json:"keys"`
	Audit      []AuditEvent `json:"audit"`
	// Notes state plainly what the bundle cannot prove by itself.
	Notes []string `json:"notes"`
	Seal  *Seal    `json:"seal,omitempty"`
}

// Operation is the approved (or rejected) operation as stored.
type Operation struct {
	ID             string     `json:"id"`
	UserID         string     `json:"user_id"`
	UserExternalID string     `json:"user_external_id"`
	Type           string     `json:"type"`
	PayeeAccount   string     `json:"payee_account"`
	PayeeName      string     `json:"payee_name"`
	Amount         string     `json:"amount"`
	Currency       string     `json:"currency"`
	Text           string     `json:"text,omitempty"`
	Status         string     `json:"status"`
	Factors        string     `json:"factors,omitempty"`
	Nonce          string     `json:"nonce"`
	DL             string     `json:"dl"`
	FailedAttempts int        `json:"failed_attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	DecidedBy      string     `json:"decided_by_credential_id,omitempty"`
}

// DynamicLinking is the digest and exactly what it hashes (docs/dynamic-linking.md §2).
type DynamicLinking struct {
	Spec     string         `json:"spec"`
	Inputs   txsign.DLInput `json:"inputs"`
	Preimage string         `json:"preimage"` // base64url
	Digest   string         `json:"digest"`   // base64url
}

// Decision is the audit record of the decision, with the factor's evidence verbatim.
type Decision struct {
	AuditSeq int64           `json:"audit_seq"`
	Type     string          `json:"type"` // operation.approve or operation.reject
	Time     time.Time       `json:"time"`
	Evidence json.RawMessage `json:"evidence"` // txsign.Evidence as recorded
}

// Credential is the credential that decided, with its public key.
type Credential struct {
	ID              string          `json:"id"`
	Kind            string          `json:"kind"`
	Status          string          `json:"status"`
	Label           string          `json:"label,omitempty"`
	PublicKey       string          `json:"public_key"`        // base64url
	PublicKeyFormat string          `json:"public_key_format"` // PKIX (device keys, PowerAuth) or COSE (passkeys)
	CreatedAt       time.Time       `json:"created_at"`
	ActivatedAt     *time.Time      `json:"activated_at,omitempty"`
	Device          json.RawMessage `json:"device,omitempty"`
}

// Token is the transaction token minted on approval, and its decoded header and claims.
type Token struct {
	JWT    string          `json:"jwt"`
	Header json.RawMessage `json:"header"`
	Claims json.RawMessage `json:"claims"`
}

// AuditEvent is one audit record of the operation.
type AuditEvent struct {
	Seq          int64           `json:"seq"`
	ID           string          `json:"id"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Outcome      string          `json:"outcome"`
	Reason       string          `json:"reason,omitempty"`
	Actor        string          `json:"actor"`
	UserID       string          `json:"user_id,omitempty"`
	OperationID  string          `json:"operation_id,omitempty"`
	CredentialID string          `json:"credential_id,omitempty"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
}

// Seal is a detached JWS (RFC 7515 Appendix F) with ES256 over the canonical encoding of the
// bundle without its seal: signature = ES256(protected || "." || base64url(payload)).
type Seal struct {
	Protected string `json:"protected"` // base64url of {"alg":"ES256","kid":...,"typ":"signet-evidence+jws"}
	Signature string `json:"signature"` // base64url of r || s (RFC 7518 §3.4)
}

// Encode returns the canonical encoding: two-space indented JSON, no HTML escaping, one final
// newline. Parse(Encode(b)) encodes to the same bytes.
func Encode(b *Bundle) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sealPayload is what the seal signs: the canonical encoding without the seal.
func sealPayload(b *Bundle) ([]byte, error) {
	c := *b
	c.Seal = nil
	return Encode(&c)
}

// ErrMalformed is returned by Parse for anything that is not a bundle.
var ErrMalformed = errors.New("evidence: not a Signet evidence bundle")

// Parse reads a bundle strictly: one JSON object, no unknown fields, nothing after it.
func Parse(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the bundle", ErrMalformed)
	}
	if b.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, b.Format, Format)
	}
	return &b, nil
}
