package evidence

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// Source is the part of the store a bundle is built from.
type Source interface {
	GetOperation(ctx context.Context, id string) (store.Operation, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error)
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
}

// Signer gives the key that seals bundles: the active transaction-token key (txsign.Keyring).
type Signer interface {
	Signer(ctx context.Context) (string, *ecdsa.PrivateKey, error)
}

// Builder builds sealed bundles.
type Builder struct {
	src    Source
	signer Signer
	issuer string
	now    func() time.Time
}

// NewBuilder returns a builder; issuer is the tokens' "iss". now may be nil (time.Now).
func NewBuilder(src Source, signer Signer, issuer string, now func() time.Time) *Builder {
	if now == nil {
		now = time.Now
	}
	return &Builder{src: src, signer: signer, issuer: issuer, now: now}
}

// maxAuditEvents bounds the audit trail read for one operation.
const maxAuditEvents = 10_000

// Build returns the canonical, sealed bundle of an APPROVED or REJECTED operation.
func (b *Builder) Build(ctx context.Context, operationID string) ([]byte, error) {
	if !store.ValidID(operationID) {
		return nil, fault.Invalid("id", "is not a valid identifier")
	}
	op, err := b.src.GetOperation(ctx, operationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault.New(fault.ErrNotFound, "operation")
	}
	if err != nil {
		return nil, err
	}
	if op.Status != store.OpApproved && op.Status != store.OpRejected {
		return nil, fault.New(fault.ErrConflict, "evidence exists once an operation is approved or rejected; this one is %s", op.Status)
	}
	user, err := b.src.GetUser(ctx, op.UserID)
	if err != nil {
		return nil, err
	}
	in := txsign.DLInputs(op)
	bundle := &Bundle{
		Format: Format, GeneratedAt: b.now().UTC(), Issuer: b.issuer,
		Operation: Operation{ID: op.ID, UserID: op.UserID, UserExternalID: user.ExternalID, Type: op.Type,
			PayeeAccount: op.PayeeAccount, PayeeName: op.PayeeName, Amount: op.Amount, Currency: op.Currency, Text: op.Text,
			Status: string(op.Status), Factors: op.Factors, Nonce: op.Nonce, DL: b64(op.DL), FailedAttempts: op.FailedAttempts,
			CreatedAt: op.CreatedAt, ExpiresAt: op.ExpiresAt, DecidedAt: op.ApprovedAt, DecidedBy: op.ApprovedCredentialID},
		DynamicLinking: DynamicLinking{Spec: "docs/dynamic-linking.md §2: SHA-256(\"signet-dl-v1\" ‖ LP(id) ‖ LP(type) ‖ " +
			"LP(payee account) ‖ LP(payee name) ‖ LP(amount) ‖ LP(currency) ‖ LP(nonce) ‖ LP(expiry, Unix seconds))",
			Inputs: in, Preimage: b64(txsign.DLPreimage(in)), Digest: b64(op.DL)},
	}
	if err := b.addAudit(ctx, bundle, op); err != nil {
		return nil, err
	}
	kind := ""
	if op.ApprovedCredentialID != "" {
		c, err := b.src.GetCredential(ctx, op.ApprovedCredentialID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			kind = string(c.Kind)
			format := "PKIX"
			if c.Kind == store.KindPasskey {
				format = "COSE"
			}
			var device json.RawMessage
			if json.Valid(c.Device) && len(c.Device) > 0 {
				device = c.Device
			}
			bundle.Credential = &Credential{ID: c.ID, Kind: string(c.Kind), Status: string(c.Status), Label: c.Label,
				PublicKey: b64(c.PublicKey), PublicKeyFormat: format, CreatedAt: c.CreatedAt, ActivatedAt: c.ActivatedAt, Device: device}
		}
	}
	keys, err := b.src.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if op.Status == store.OpApproved && op.Token != "" {
		tok, kid, err := decodeToken(op.Token)
		if err != nil {
			return nil, fmt.Errorf("evidence: stored token of %s: %w", op.ID, err)
		}
		bundle.Token = tok
		if err := addKey(bundle, keys, kid); err != nil {
			return nil, err
		}
	}
	bundle.Notes = notes(kind, op.Status)
	kid, priv, err := b.signer.Signer(ctx)
	if err != nil {
		return nil, err
	}
	if err := addKey(bundle, keys, kid); err != nil {
		return nil, err
	}
	if err := seal(bundle, kid, priv); err != nil {
		return nil, err
	}
	return Encode(bundle)
}

func (b *Builder) addAudit(ctx context.Context, bundle *Bundle, op store.Operation) error {
	f := store.AuditFilter{OperationID: op.ID, Limit: 1000}
	wantType := "operation.approve"
	if op.Status == store.OpRejected {
		wantType = "operation.reject"
	}
	for {
		evs, next, err := b.src.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range evs {
			var ev json.RawMessage
			if len(e.Evidence) > 0 && json.Valid(e.Evidence) {
				ev = e.Evidence
			}
			bundle.Audit = append(bundle.Audit, AuditEvent{Seq: e.Seq, ID: e.ID, Time: e.Time.UTC(), Type: e.Type,
				Outcome: e.Outcome, Reason: e.Reason, Actor: e.Actor, UserID: e.UserID, OperationID: e.OperationID,
				CredentialID: e.CredentialID, Evidence: ev})
			if e.Type == wantType && e.Outcome == "success" && bundle.Decision == nil {
				bundle.Decision = &Decision{AuditSeq: e.Seq, Type: e.Type, Time: e.Time.UTC(), Evidence: ev}
			}
		}
		if next == "" {
			return nil
		}
		if len(bundle.Audit) >= maxAuditEvents {
			return fmt.Errorf("evidence: operation %s has more than %d audit events", op.ID, maxAuditEvents)
		}
		f.Cursor = next
	}
}

// addKey adds the public JWK of signing key kid, once.
func addKey(bundle *Bundle, keys []store.SigningKey, kid string) error {
	for _, k := range bundle.Keys {
		if k.Kid == kid {
			return nil
		}
	}
	for _, sk := range keys {
		if sk.ID != kid {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(sk.PublicKey)
		ec, ok := pub.(*ecdsa.PublicKey)
		if err != nil || !ok {
			return fmt.Errorf("evidence: signing key %s is not an EC key", kid)
		}
		bundle.Keys = append(bundle.Keys, txsign.PublicJWK(ec, kid))
		return nil
	}
	return fmt.Errorf("evidence: signing key %s is not in the key table", kid)
}

// decodeToken splits a compact JWS and returns its decoded header and claims and its kid.
func decodeToken(jwt string) (*Token, string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, "", errors.New("not a compact JWS")
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || !json.Valid(h) || !json.Valid(c) {
		return nil, "", errors.New("undecodable header or claims")
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(h, &hdr); err != nil || hdr.Kid == "" {
		return nil, "", errors.New("no kid")
	}
	return &Token{JWT: jwt, Header: h, Claims: c}, hdr.Kid, nil
}

func seal(bundle *Bundle, kid string, priv *ecdsa.PrivateKey) error {
	hdr, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", kid, SealType})
	bundle.Seal = nil
	payload, err := sealPayload(bundle)
	if err != nil {
		return err
	}
	protected := b64(hdr)
	digest := sha256.Sum256([]byte(protected + "." + b64(payload)))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		return err
	}
	sig := make([]byte, 64) // RFC 7518 §3.4: R and S as 32-byte big-endian integers
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	bundle.Seal = &Seal{Protected: protected, Signature: b64(sig)}
	return nil
}

// notes states what a bundle cannot prove by itself.
func notes(kind string, status store.OperationStatus) []string {
	out := []string{
		"The seal and the token are verified with the keys in this bundle. Anchor those keys by comparing them " +
			"with Signet's published JWKS kept by the bank (signet evidence verify --jwks <file>); without that, a " +
			"forger could replace keys and signatures together.",
		"The credential's public key is Signet's registration record; that the key belongs to the customer rests " +
			"on the enrollment (registration code, activation or passkey ceremony) recorded in the credential's own audit trail.",
	}
	switch store.CredentialKind(kind) {
	case store.KindDeviceKey:
		out = append(out, "Device key: the ECDSA P-256 signature over the dynamic-linking digest can be re-verified offline.")
	case store.KindPasskey:
		out = append(out, "Passkey: the WebAuthn assertion (authenticator data and client data, whose challenge is "+
			"the dynamic-linking digest) can be re-verified offline. The passcode, the knowledge factor, was checked by "+
			"Signet (HPKE, Argon2id) and cannot be re-checked offline: only the audit record attests it.")
	case store.KindPowerAuth:
		out = append(out, "PowerAuth: the signature is an HMAC keyed with factor keys that Signet and the device "+
			"share; re-verifying it needs Signet's server-side activation secret, which a bundle never contains. "+
			"Offline one can check that the signed request names this operation; the audit record attests the HMAC check.")
	}
	if status == store.OpRejected {
		out = append(out, "The operation was rejected: no transaction token was minted.")
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
