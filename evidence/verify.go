package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

// Result of one check.
type Result string

const (
	Pass          Result = "PASS"
	Fail          Result = "FAIL"
	NotVerifiable Result = "NOT VERIFIABLE OFFLINE"
	Skipped       Result = "SKIPPED"
)

// Check is one statement about the bundle and whether it holds.
type Check struct {
	Name   string `json:"name"`
	Result Result `json:"result"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK reports whether no check failed (checks that cannot be made offline are not failures;
// they are listed).
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Result == Fail {
			return false
		}
	}
	return len(r.Checks) > 0
}

func (r *Report) add(name string, res Result, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// TrustedKeys are Signet's published keys by kid (verify.ParseJWKS of a JWKS the bank kept);
	// when set, the bundle's seal and token keys must be among them.
	TrustedKeys map[string]*ecdsa.PublicKey
}

// Verify re-checks a bundle offline. Every check runs, so the report says everything that holds
// and everything that does not.
func Verify(data []byte, opts VerifyOptions) Report {
	var r Report
	b, err := Parse(data)
	if err != nil {
		r.add("bundle", Fail, "%v", err)
		return r
	}
	r.add("bundle", Pass, "%s for operation %s (%s), generated %s", b.Format, b.Operation.ID, b.Operation.Status,
		b.GeneratedAt.Format(time.RFC3339))
	if enc, err := Encode(b); err != nil || !bytes.Equal(enc, data) {
		r.add("canonical", Fail, "the file is not byte for byte what Signet wrote (edited or re-formatted)")
	} else {
		r.add("canonical", Pass, "the file is byte for byte in Signet's canonical form")
	}
	keys := checkKeys(&r, b)
	checkSeal(&r, b, keys)
	checkAnchor(&r, b, keys, opts.TrustedKeys)
	digest, dlOK := checkDL(&r, b)
	ev, evOK := checkDecision(&r, b, digest, dlOK)
	checkFactor(&r, b, ev, evOK, digest)
	checkAttestation(&r, ev, evOK)
	checkToken(&r, b, keys, digest, ev, evOK)
	checkAudit(&r, b)
	return r
}

// checkKeys parses the bundle's keys; each kid must be its RFC 7638 thumbprint, so that a kid
// names exactly one key.
func checkKeys(r *Report, b *Bundle) map[string]*ecdsa.PublicKey {
	keys := map[string]*ecdsa.PublicKey{}
	var bad []string
	for _, k := range b.Keys {
		pub, err := jwkKey(k)
		if err != nil || txsign.Thumbprint(pub) != k.Kid || keys[k.Kid] != nil {
			bad = append(bad, k.Kid)
			continue
		}
		keys[k.Kid] = pub
	}
	switch {
	case len(b.Keys) == 0:
		r.add("keys", Fail, "the bundle holds no signing key")
	case len(bad) > 0:
		r.add("keys", Fail, "key(s) %s are not valid P-256 keys named by their RFC 7638 thumbprint", strings.Join(bad, ", "))
	default:
		r.add("keys", Pass, "%d ES256 key(s), each named by its RFC 7638 thumbprint", len(keys))
	}
	return keys
}

func jwkKey(k txsign.JWK) (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") {
		return nil, errors.New("not an ES256 key")
	}
	x, err1 := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad coordinates")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

type sealHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

func checkSeal(r *Report, b *Bundle, keys map[string]*ecdsa.PublicKey) {
	if b.Seal == nil {
		r.add("seal", Fail, "the bundle is not sealed")
		return
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(b.Seal.Protected)
	var h sealHeader
	if err != nil || json.Unmarshal(raw, &h) != nil || h.Alg != "ES256" || h.Typ != SealType {
		r.add("seal", Fail, "the seal's protected header is not {alg: ES256, typ: %s}", SealType)
		return
	}
	pub := keys[h.Kid]
	if pub == nil {
		r.add("seal", Fail, "the seal names key %q, which the bundle does not hold", h.Kid)
		return
	}
	payload, err := sealPayload(b)
	if err != nil {
		r.add("seal", Fail, "cannot encode the bundle: %v", err)
		return
	}
	if !verifyES256(pub, []byte(b.Seal.Protected+"."+b64(payload)), b.Seal.Signature) {
		r.add("seal", Fail, "Signet's seal does not verify: the bundle was changed after Signet built it")
		return
	}
	r.add("seal", Pass, "sealed by Signet with ES256 key %s: nothing in the bundle changed since", h.Kid)
}

// verifyES256 checks a JWS ES256 signature (R || S, RFC 7518 §3.4) over input.
func verifyES256(pub *ecdsa.PublicKey, input []byte, sigB64 string) bool {
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(input)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func checkAnchor(r *Report, b *Bundle, keys map[string]*ecdsa.PublicKey, trusted map[string]*ecdsa.PublicKey) {
	if trusted == nil {
		r.add("anchor", Skipped, "the keys come from the bundle itself; pass --jwks with Signet's published keys to anchor them")
		return
	}
	var missing []string
	for _, k := range b.Keys {
		t := trusted[k.Kid]
		if t == nil || keys[k.Kid] == nil || !t.Equal(keys[k.Kid]) {
			missing = append(missing, k.Kid)
		}
	}
	if len(missing) > 0 {
		r.add("anchor", Fail, "key(s) %s are not in the trusted JWKS", strings.Join(missing, ", "))
		return
	}
	r.add("anchor", Pass, "every key in the bundle is in the trusted JWKS")
}

// checkDL recomputes the dynamic-linking digest from its inputs and compares it with the
// operation's.
func checkDL(r *Report, b *Bundle) ([txsign.DigestSize]byte, bool) {
	in, op := b.DynamicLinking.Inputs, b.Operation
	dl := txsign.ComputeDL(in)
	var diffs []string
	if b64(txsign.DLPreimage(in)) != b.DynamicLinking.Preimage {
		diffs = append(diffs, "the preimage is not the encoding of the inputs")
	}
	enc := txsign.EncodeDigest(dl)
	if enc != b.DynamicLinking.Digest || enc != op.DL {
		diffs = append(diffs, "the digest recomputed from the inputs differs from the operation's")
	}
	if in.ID != op.ID || in.Type != op.Type || in.PayeeAccount != op.PayeeAccount || in.PayeeName != op.PayeeName ||
		in.Amount != op.Amount || in.Currency != op.Currency || in.Nonce != op.Nonce || !in.ExpiresAt.Equal(op.ExpiresAt) {
		diffs = append(diffs, "the inputs are not the operation's payee, amount, currency, nonce and expiry")
	}
	if len(diffs) > 0 {
		r.add("dynamic-linking", Fail, "%s", strings.Join(diffs, "; "))
		return dl, false
	}
	r.add("dynamic-linking", Pass, "DL %s = SHA-256 of the inputs: %s %s to %s (%s), nonce %s, expiry %s",
		enc, op.Amount, op.Currency, op.PayeeAccount, op.PayeeName, op.Nonce, op.ExpiresAt.Format(time.RFC3339))
	return dl, true
}

// checkDecision checks that the recorded decision is about this operation, its digest and the
// credential in the bundle.
func checkDecision(r *Report, b *Bundle, dl [txsign.DigestSize]byte, dlOK bool) (txsign.Evidence, bool) {
	var ev txsign.Evidence
	if b.Decision == nil {
		r.add("decision", Fail, "the audit trail holds no successful approval or rejection")
		return ev, false
	}
	if err := json.Unmarshal(b.Decision.Evidence, &ev); err != nil {
		r.add("decision", Fail, "the decision's evidence is unreadable: %v", err)
		return ev, false
	}
	want := map[string]string{"APPROVED": "operation.approve", "REJECTED": "operation.reject"}[b.Operation.Status]
	var diffs []string
	if b.Decision.Type != want {
		diffs = append(diffs, fmt.Sprintf("the decision is %s but the operation is %s", b.Decision.Type, b.Operation.Status))
	}
	if ev.DL != txsign.EncodeDigest(dl) || !dlOK {
		diffs = append(diffs, "the decision's DL is not the operation's")
	}
	if !sameInputs(ev.DLInputs, b.DynamicLinking.Inputs) {
		diffs = append(diffs, "the decision's DL inputs are not the bundle's")
	}
	c := b.Credential
	switch {
	case c == nil:
		diffs = append(diffs, "the bundle holds no credential")
	case ev.Credential != c.ID || c.ID != b.Operation.DecidedBy:
		diffs = append(diffs, "the deciding credential differs between the decision, the credential and the operation")
	case ev.PublicKey != c.PublicKey || string(ev.Kind) != c.Kind:
		diffs = append(diffs, "the decision's public key or kind is not the credential's")
	}
	if len(diffs) > 0 {
		r.add("decision", Fail, "%s", strings.Join(diffs, "; "))
		return ev, false
	}
	r.add("decision", Pass, "%s by %s credential %s at %s (audit seq %d, AMR %s)", b.Decision.Type, ev.Kind, ev.Credential,
		b.Decision.Time.Format(time.RFC3339), b.Decision.AuditSeq, strings.Join(ev.AMR, " "))
	return ev, true
}

// signedMessage is what the factor must have signed: DL to approve, the reject digest to reject.
func signedMessage(b *Bundle, dl [txsign.DigestSize]byte) []byte {
	if b.Operation.Status == string(store.OpRejected) {
		r := txsign.RejectDigest(dl)
		return r[:]
	}
	return dl[:]
}

func checkFactor(r *Report, b *Bundle, ev txsign.Evidence, evOK bool, dl [txsign.DigestSize]byte) {
	const name = "signature"
	if !evOK {
		r.add(name, Fail, "not checked: the decision record is missing or inconsistent")
		return
	}
	signed, err1 := base64.RawURLEncoding.DecodeString(ev.Signed)
	sig, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(ev.Signature, "="))
	pub, err3 := base64.RawURLEncoding.DecodeString(ev.PublicKey)
	if err1 != nil || err3 != nil {
		r.add(name, Fail, "the signed bytes or the public key are not base64url")
		return
	}
	want := signedMessage(b, dl)
	switch ev.Kind {
	case store.KindDeviceKey:
		if !bytes.Equal(signed, want) {
			r.add(name, Fail, "the device signed something other than the operation's digest")
			return
		}
		k, err := x509.ParsePKIXPublicKey(pub)
		ec, ok := k.(*ecdsa.PublicKey)
		if err != nil || !ok || ec.Curve != elliptic.P256() {
			r.add(name, Fail, "the device public key is not a P-256 PKIX key")
			return
		}
		h := sha256.Sum256(signed)
		if err2 != nil || !ecdsa.VerifyASN1(ec, h[:], sig) {
			r.add(name, Fail, "the device's ECDSA P-256 signature does not verify")
			return
		}
		r.add(name, Pass, "the device key's ECDSA P-256 signature over the %s digest verifies", digestName(b))
	case store.KindPasskey:
		checkPasskey(r, ev, signed, sig, err2, pub, want)
	case store.KindPowerAuth:
		if why := powerAuthNamesOperation(signed, b.Operation.ID, ev.Extra); why != "" {
			r.add(name, Fail, "the PowerAuth signed request does not name this operation: %s", why)
			return
		}
		r.add(name, NotVerifiable, "PowerAuth %s signature %q is an HMAC keyed with secrets shared by the device and Signet; "+
			"re-verifying it needs Signet's server-side activation secret. What holds offline: the signed request names "+
			"this operation; the audit record attests that Signet verified the HMAC.", ev.Algorithm, ev.Signature)
	default:
		r.add(name, Fail, "unknown credential kind %q", ev.Kind)
	}
}

// powerAuthNamesOperation checks that a PowerAuth signature base string names the operation (PowerAuth 3.x,
// Computing and Validating Signatures: METHOD & Base64(uriId) & Base64(nonce) & Base64(body)). The operation id
// is inside the Base64 body: the mobile-token request {"requestObject":{"id","data"|"reason"}} of an online
// approve or reject (uriId /operation/authorize or /operation/cancel), or "{id}&{data}" of an offline approval
// (uriId /operation/authorize/offline). Where the record holds the operation data, the signed data must equal
// it. It returns "" when the request names the operation, else why not.
func powerAuthNamesOperation(signed []byte, opID string, extra map[string]any) string {
	parts := strings.Split(string(signed), "&")
	if len(parts) != 4 {
		return "not a PowerAuth signature base string"
	}
	uri, err1 := base64.StdEncoding.DecodeString(parts[1])
	body, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return "the base string's parts are not Base64"
	}
	want, _ := extra["operation_data"].(string)
	switch string(uri) {
	case "/operation/authorize", "/operation/cancel":
		var req struct {
			RequestObject struct {
				ID   string  `json:"id"`
				Data *string `json:"data"`
			} `json:"requestObject"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return "the signed body is not the mobile-token request"
		}
		if req.RequestObject.ID != opID {
			return fmt.Sprintf("the signed body names operation %q", req.RequestObject.ID)
		}
		if req.RequestObject.Data != nil && want != "" && *req.RequestObject.Data != want {
			return "the signed operation data differs from the operation's"
		}
	case "/operation/authorize/offline":
		id, data, ok := strings.Cut(string(body), "&")
		if !ok || id != opID {
			return "the signed offline data names another operation"
		}
		if want != "" && data != want {
			return "the signed offline operation data differs from the operation's"
		}
	default:
		return fmt.Sprintf("uriId %q is not an operation approval", uri)
	}
	return ""
}

func digestName(b *Bundle) string {
	if b.Operation.Status == string(store.OpRejected) {
		return "reject"
	}
	return "dynamic-linking"
}

// checkPasskey re-verifies a WebAuthn assertion (WebAuthn L3 §7.2 steps 11-21, offline part):
// the client data is a webauthn.get whose challenge starts with the digest (challengeForm), the signed bytes are
// authenticatorData ‖ SHA-256(clientDataJSON), and the COSE key verifies the signature.
func checkPasskey(r *Report, ev txsign.Evidence, signed, sig []byte, sigErr error, cose, want []byte) {
	const name = "signature"
	str := func(k string) []byte {
		s, _ := ev.Extra[k].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	authData, cdj := str("authenticator_data"), str("client_data_json")
	if len(authData) < 37 || len(cdj) == 0 {
		r.add(name, Fail, "the assertion's authenticator data or client data is missing")
		return
	}
	h := sha256.Sum256(cdj)
	if !bytes.Equal(signed, append(append([]byte(nil), authData...), h[:]...)) {
		r.add(name, Fail, "the signed bytes are not authenticatorData ‖ SHA-256(clientDataJSON)")
		return
	}
	var cd struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(cdj, &cd); err != nil || cd.Type != "webauthn.get" {
		r.add(name, Fail, "the client data is not a webauthn.get ceremony")
		return
	}
	challenge, err := base64.RawURLEncoding.Strict().DecodeString(cd.Challenge)
	form, ok := challengeForm(challenge, want)
	if err != nil || !ok {
		r.add(name, Fail, "the assertion's challenge is not the operation's digest (followed by 16 random bytes)")
		return
	}
	key, err := webauthncose.ParsePublicKey(cose)
	if err != nil || sigErr != nil {
		r.add(name, Fail, "the passkey's COSE public key or the signature cannot be read")
		return
	}
	if ok, err := webauthncose.VerifySignature(key, signed, sig); err != nil || !ok {
		r.add(name, Fail, "the passkey's assertion signature does not verify")
		return
	}
	flags := authData[32]
	r.add(name, Pass, "the passkey's WebAuthn assertion verifies: challenge = %s, origin %s, user present %v, "+
		"user verified %v (the passcode cannot be re-checked offline; the audit record attests it)",
		form, cd.Origin, flags&0x01 != 0, flags&0x04 != 0)
}

// challengeForm checks a passkey assertion's challenge against the digest the decision must bind to
// (docs/dynamic-linking.md §3): digest ‖ 16 random bytes of the ceremony (48 bytes, current), or the
// digest alone (32 bytes), as approvals recorded before the per-ceremony random part were; those stay
// verifiable. Only the digest part can be checked offline: the random part's single use is attested by
// the audit trail, not by the bundle.
func challengeForm(challenge, digest []byte) (string, bool) {
	switch {
	case len(challenge) == txsign.DigestSize+16 && bytes.Equal(challenge[:txsign.DigestSize], digest):
		return "digest ‖ 16 random bytes of the ceremony", true
	case len(challenge) == txsign.DigestSize && bytes.Equal(challenge, digest):
		return "digest (recorded before per-ceremony challenges)", true
	}
	return "", false
}

func checkToken(r *Report, b *Bundle, keys map[string]*ecdsa.PublicKey, dl [txsign.DigestSize]byte, ev txsign.Evidence, evOK bool) {
	const name = "token"
	if b.Operation.Status != string(store.OpApproved) {
		if b.Token != nil {
			r.add(name, Fail, "a token for an operation that was not approved")
			return
		}
		r.add(name, Skipped, "no token: the operation was %s", b.Operation.Status)
		return
	}
	if b.Token == nil {
		r.add(name, Fail, "the approved operation's token is missing")
		return
	}
	parts := strings.Split(b.Token.JWT, ".")
	if len(parts) != 3 {
		r.add(name, Fail, "the token is not a compact JWS")
		return
	}
	hdr, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	cl, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err1 != nil || err2 != nil || !sameJSON(hdr, b.Token.Header) || !sameJSON(cl, b.Token.Claims) {
		r.add(name, Fail, "the token's header or claims differ from the decoded ones in the bundle")
		return
	}
	var h struct {
		Alg, Typ, Kid string
	}
	var c verify.Claims
	if json.Unmarshal(hdr, &h) != nil || json.Unmarshal(cl, &c) != nil || h.Alg != "ES256" || !strings.EqualFold(h.Typ, verify.TokenType) {
		r.add(name, Fail, "the token is not an ES256 %s", verify.TokenType)
		return
	}
	pub := keys[h.Kid]
	if pub == nil || !verifyES256(pub, []byte(parts[0]+"."+parts[1]), parts[2]) {
		r.add(name, Fail, "the token's signature does not verify with key %q", h.Kid)
		return
	}
	op := b.Operation
	var diffs []string
	if c.Op != op.ID || c.DL != txsign.EncodeDigest(dl) {
		diffs = append(diffs, "op or dl claim is not this operation's")
	}
	if c.Subject != op.UserExternalID || c.Issuer != b.Issuer {
		diffs = append(diffs, "sub or iss is not the bundle's")
	}
	if op.Amount != "" && op.PayeeAccount != "" {
		if err := c.CheckBinding(verify.Binding{Amount: op.Amount, Currency: op.Currency, PayeeAccount: op.PayeeAccount}); err != nil {
			diffs = append(diffs, "authorization_details do not match the operation's amount, currency and payee")
		}
	}
	if evOK && !slices.Equal(c.AMR, ev.AMR) {
		diffs = append(diffs, "amr differs from the decision's")
	}
	if c.IssuedAt == nil || op.DecidedAt == nil || c.IssuedAt.Sub(*op.DecidedAt).Abs() > time.Minute {
		diffs = append(diffs, "the token was not issued at the decision")
	}
	if len(diffs) > 0 {
		r.add(name, Fail, "%s", strings.Join(diffs, "; "))
		return
	}
	r.add(name, Pass, "transaction token %s signed by key %s for operation %s, sub %s, issued %s, valid until %s",
		c.ID, h.Kid, c.Op, c.Subject, c.IssuedAt.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339))
}

func sameInputs(a, b txsign.DLInput) bool {
	ta, tb := a.ExpiresAt, b.ExpiresAt
	a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// checkAudit checks the trail is in order, about this operation only, records its creation with
// the same digest and holds exactly one successful decision: the one in the bundle.
func checkAudit(r *Report, b *Bundle) {
	const name = "audit-trail"
	var diffs []string
	var created bool
	decisions, failures, unverified := 0, 0, 0
	for i, e := range b.Audit {
		if i > 0 && e.Seq <= b.Audit[i-1].Seq {
			diffs = append(diffs, "events are not in ascending sequence")
		}
		if e.OperationID != b.Operation.ID {
			diffs = append(diffs, fmt.Sprintf("event %d is about another operation", e.Seq))
		}
		switch {
		case e.Type == "operation.create" && e.Outcome == "success":
			var ce struct {
				DL       string         `json:"dl"`
				DLInputs txsign.DLInput `json:"dl_inputs"`
			}
			if json.Unmarshal(e.Evidence, &ce) != nil || ce.DL != b.Operation.DL || !sameInputs(ce.DLInputs, b.DynamicLinking.Inputs) {
				diffs = append(diffs, "the creation record's DL or inputs differ from the operation's")
			}
			created = true
		case (e.Type == "operation.approve" || e.Type == "operation.reject") && e.Outcome == "success":
			decisions++
			d := b.Decision
			if d == nil || d.AuditSeq != e.Seq || d.Type != e.Type || !d.Time.Equal(e.Time) || !sameJSON(d.Evidence, e.Evidence) ||
				e.CredentialID != b.Operation.DecidedBy {
				diffs = append(diffs, "the successful decision in the trail is not the bundle's decision")
			}
		case (e.Type == "operation.approve" || e.Type == "operation.reject") && e.Outcome == "unverified":
			unverified++
		case e.Type == "operation.approve" || e.Type == "operation.reject":
			failures++
		}
	}
	if !created {
		diffs = append(diffs, "no record of the operation's creation")
	}
	if decisions != 1 {
		diffs = append(diffs, fmt.Sprintf("%d successful decisions, want exactly 1", decisions))
	}
	if len(diffs) > 0 {
		r.add(name, Fail, "%s", strings.Join(slices.Compact(diffs), "; "))
		return
	}
	r.add(name, Pass, "%d events in order: created with this DL, %d refused attempt(s), %d unverified attempt(s) "+
		"(refused before anything was proven, counted nowhere), one %s", len(b.Audit), failures, unverified,
		strings.TrimPrefix(b.Decision.Type, "operation."))
}

// checkAttestation re-checks, offline, the platform attestation a device key was registered with
// (docs/device-keys.md), when the decision carries one: the chain's signatures up to Google's or
// Apple's root, the attested key, and that the recorded assurance (hence the amr) claims no more
// user verification than the attestation shows. Validity periods, revocation and the
// registration challenge held at registration; its audit record attests them.
func checkAttestation(r *Report, ev txsign.Evidence, evOK bool) {
	const name = "attestation"
	raw, ok := ev.Extra["attestation"]
	if !evOK || ev.Kind != store.KindDeviceKey || !ok {
		return
	}
	var att devicekey.StoredAttestation
	var asr attest.Assurance
	b1, _ := json.Marshal(raw)
	b2, _ := json.Marshal(ev.Extra["assurance"])
	if json.Unmarshal(b1, &att) != nil || json.Unmarshal(b2, &asr) != nil {
		r.add(name, Fail, "the decision's attestation or assurance is malformed")
		return
	}
	var in attest.Inspection
	var err error
	var roots, platform string
	switch att.Format {
	case attest.FormatAndroidKey:
		in, err = attest.InspectAndroid(att.CertificateChain, attest.GoogleRoots())
		roots, platform = "Google's Hardware Attestation roots", "Android Key Attestation"
		if err == nil {
			pub, _ := base64.RawURLEncoding.DecodeString(ev.PublicKey)
			k, perr := x509.ParsePKIXPublicKey(pub)
			if ec, ok := k.(*ecdsa.PublicKey); perr != nil || !ok || !ec.Equal(in.PublicKey) {
				r.add(name, Fail, "the attested key is not the device key that signed")
				return
			}
		}
	case attest.FormatAppleAppAtt:
		in, err = attest.InspectAppAttest(att.Object, att.KeyID, attest.AppleAppAttestRoot())
		roots, platform = "Apple's App Attestation root", "App Attest"
	default:
		r.add(name, Fail, "unknown attestation format %q", att.Format)
		return
	}
	if err != nil {
		r.add(name, Fail, "the %s does not hold: %v", att.Format, err)
		return
	}
	if asr.UserVerification != in.UserVerification && asr.UserVerification != attest.UVNotProven {
		r.add(name, Fail, "the recorded user verification %q is not what the attestation shows (%q)", asr.UserVerification, in.UserVerification)
		return
	}
	if !slices.Equal(ev.AMR, asr.AMR()) {
		r.add(name, Fail, "the decision's amr %v is not what the recorded assurance proves (%v)", ev.AMR, asr.AMR())
		return
	}
	if !in.Anchored {
		r.add(name, NotVerifiable, "%s: the chain's signatures hold, but it ends at root %s, not at %s: compare it with the "+
			"bank's configured trust anchors", platform, in.Root, roots)
		return
	}
	r.add(name, Pass, "%s: the chain's signatures hold up to %s (root %s); user verification %s (amr %s); validity, "+
		"revocation and the registration challenge were checked at registration (audit record)", platform, roots, in.Root,
		in.UserVerification, strings.Join(asr.AMR(), " "))
}
