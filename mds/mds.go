package mds

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
)

// Allowlist is the set of authenticator models a verified MDS3 BLOB lists
// with a status a relying party may rely on.
type Allowlist struct {
	entries    map[uuid.UUID]metadata.Entry
	number     int
	nextUpdate time.Time
}

// errBlob wraps every reason a BLOB is refused.
var errBlob = errors.New("FIDO metadata BLOB")

// RootFromPEM returns a trust anchor for Load from a PEM certificate (the
// FIDO Alliance's root, or a bank's own for a BLOB it signs); empty PEM gives
// the FIDO production root go-webauthn ships (metadata.ProductionMDSRoot).
func RootFromPEM(b []byte) (string, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return metadata.ProductionMDSRoot, nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%w root: not a PEM CERTIFICATE", errBlob)
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		return "", fmt.Errorf("%w root: %v", errBlob, err)
	}
	return base64.StdEncoding.EncodeToString(blk.Bytes), nil
}

// Load verifies and parses an MDS3 BLOB (FIDO Metadata Service v3 §3.1.8
// "Metadata BLOB object processing rules", with go-webauthn's metadata
// decoder): a JWT whose x5c chain must lead to root (base64 DER, see
// RootFromPEM) and whose signature the leaf must verify; a BLOB whose
// nextUpdate has passed (before now) is refused (step 5: the relying party
// must fetch a newer one), as is one with an entry that does not parse.
func Load(blob []byte, root string, now time.Time) (*Allowlist, error) {
	dec, err := metadata.NewDecoder(metadata.WithRootCertificate(root))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBlob, err)
	}
	payload, err := dec.DecodeBytes([]byte(strings.TrimSpace(string(blob))))
	if err != nil {
		return nil, fmt.Errorf("%w: signature or chain does not verify: %v", errBlob, err)
	}
	md, err := dec.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBlob, err)
	}
	if !now.Before(md.Parsed.NextUpdate.AddDate(0, 0, 1)) {
		return nil, fmt.Errorf("%w: stale (nextUpdate %s has passed); download a current BLOB", errBlob, md.Parsed.NextUpdate.Format(time.DateOnly))
	}
	a := &Allowlist{entries: map[uuid.UUID]metadata.Entry{}, number: md.Parsed.Number, nextUpdate: md.Parsed.NextUpdate}
	for _, e := range md.Parsed.Entries {
		if e.AaGUID != uuid.Nil {
			a.entries[e.AaGUID] = e
		}
	}
	return a, nil
}

// Len is the number of FIDO2 models (AAGUIDs) the BLOB lists.
func (a *Allowlist) Len() int { return len(a.entries) }

// Number and NextUpdate are the BLOB's serial number and next update date.
func (a *Allowlist) Number() int           { return a.number }
func (a *Allowlist) NextUpdate() time.Time { return a.nextUpdate }

// Check says whether the model aaguid may prove user verification: it must be
// listed, its latest status report must be a FIDO certification (FIDO MDS3
// §3.1.4 AuthenticatorStatus: FIDO_CERTIFIED*), and no report may name a
// status a relying party must not rely on (go-webauthn's undesired statuses:
// USER_VERIFICATION_BYPASS, key compromise, REVOKED, RETIRED…), and its
// metadata statement must list a user verification method. It returns the
// model's name and how it verifies users (RFC 8176 method: "fpt" when every
// method it lists is biometric, else "pin").
func (a *Allowlist) Check(aaguid string) (Model, error) {
	id, err := uuid.Parse(aaguid)
	if err != nil || id == uuid.Nil {
		return Model{}, fmt.Errorf("authenticator model %q is not in the FIDO metadata", aaguid)
	}
	e, ok := a.entries[id]
	if !ok {
		return Model{}, fmt.Errorf("authenticator model %s is not in the FIDO metadata", id)
	}
	m := Model{AAGUID: id.String(), Name: e.MetadataStatement.Description}
	if len(e.StatusReports) == 0 {
		return m, fmt.Errorf("authenticator model %s (%s) has no status report", id, m.Name)
	}
	for _, r := range e.StatusReports {
		if metadata.IsUndesiredAuthenticatorStatus(r.Status) {
			return m, fmt.Errorf("authenticator model %s (%s) is reported %s", id, m.Name, r.Status)
		}
	}
	last := e.StatusReports[len(e.StatusReports)-1].Status
	if !strings.HasPrefix(string(last), "FIDO_CERTIFIED") {
		return m, fmt.Errorf("authenticator model %s (%s) is %s, not FIDO certified", id, m.Name, last)
	}
	m.Status = string(last)
	var methods []string
	for _, alt := range e.MetadataStatement.UserVerificationDetails {
		for _, d := range alt {
			methods = append(methods, d.UserVerificationMethod)
		}
	}
	if len(methods) == 0 || !slices.ContainsFunc(methods, func(s string) bool { return s != "presence_internal" && s != "none" }) {
		return m, fmt.Errorf("authenticator model %s (%s) lists no user verification method", id, m.Name)
	}
	m.Method = "fpt"
	for _, s := range methods {
		if !biometric[s] && s != "presence_internal" && s != "none" {
			m.Method = "pin"
		}
	}
	return m, nil
}

// biometric user verification methods (FIDO Registry of Predefined Values §3.1 USER_VERIFY).
var biometric = map[string]bool{"fingerprint_internal": true, "voiceprint_internal": true, "faceprint_internal": true,
	"eyeprint_internal": true, "handprint_internal": true, "fingerprint_external": true}

// Model is an authenticator model the metadata allows.
type Model struct {
	AAGUID string
	Name   string
	Status string
	Method string // RFC 8176 amr of its user verification: "fpt" or "pin"
}
