package cluster

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/descope/virtualwebauthn"
)

// passkeyUser is a customer with a passkey (a software authenticator, descope/virtualwebauthn)
// and a passcode, approving in the browser through the balancer as the hosted approval page does.
type passkeyUser struct {
	hc       *http.Client
	base     string
	userID   string
	passcode string
	rp       virtualwebauthn.RelyingParty
	auth     virtualwebauthn.Authenticator
	cred     virtualwebauthn.Credential
}

// newPasskeyUser creates a user and enrolls a passkey and passcode through the enrollment API.
// origin is the RP origin the server expects (SIGNET_RP_ORIGINS).
func newPasskeyUser(ctx context.Context, hc *http.Client, base, origin, name string) (*passkeyUser, error) {
	u := &passkeyUser{hc: hc, base: base, passcode: "482916",
		rp:   virtualwebauthn.RelyingParty{ID: "localhost", Name: "Signet", Origin: origin},
		auth: virtualwebauthn.NewAuthenticator(), cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)}
	var user struct{ ID string }
	if err := bankCall(ctx, hc, "POST", base+"/v1/users", map[string]string{"external_id": name}, &user); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	u.userID = user.ID
	var link struct{ URL string }
	if err := bankCall(ctx, hc, "POST", base+"/v1/users/"+user.ID+"/enrollments", nil, &link); err != nil {
		return nil, fmt.Errorf("enrollment link: %w", err)
	}
	_, tok, _ := strings.Cut(link.URL, "#token=")
	var sess struct{ Session string }
	if err := webCall(ctx, hc, "POST", base+"/v1/web/enrollment/session", "", map[string]string{"token": tok}, &sess); err != nil {
		return nil, fmt.Errorf("enrollment session: %w", err)
	}
	bearer := "Bearer " + sess.Session
	var begin map[string]any
	if err := webCall(ctx, hc, "POST", base+"/v1/web/enrollment/passkeys/begin", bearer, nil, &begin); err != nil {
		return nil, fmt.Errorf("enrollment begin: %w", err)
	}
	raw, _ := json.Marshal(begin["public_key"])
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		return nil, err
	}
	u.auth.Options.UserHandle = []byte(opts.UserID)
	u.auth.AddCredential(u.cred)
	sealed, err := sealPasscode(begin, u.passcode)
	if err != nil {
		return nil, err
	}
	if err := webCall(ctx, hc, "POST", base+"/v1/web/enrollment/passkeys/finish", bearer, map[string]any{
		"ceremony_id": begin["ceremony_id"], "label": "Phone", "passcode": sealed,
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(u.rp, u.auth, u.cred, *opts))}, nil); err != nil {
		return nil, fmt.Errorf("enrollment finish: %w", err)
	}
	return u, nil
}

// approve creates a payment operation (bank) and approves it with the passkey and passcode
// (browser): begin and finish may reach different replicas. It returns the operation id.
func (u *passkeyUser) approve(ctx context.Context) (string, error) {
	var op struct{ ID, Capability string }
	if err := bankCall(ctx, u.hc, "POST", u.base+"/v1/operations", map[string]any{"user_id": u.userID, "type": "payment",
		"payee": map[string]string{"account": "DE89370400440532013000", "name": "Passkey Payee"}, "amount": "3.00", "currency": "EUR"},
		&op); err != nil {
		return "", fmt.Errorf("create operation: %w", err)
	}
	capability := "Signet-Capability " + op.Capability
	var begin map[string]any
	if err := webCall(ctx, u.hc, "POST", u.base+"/v1/web/operations/"+op.ID+"/approval/begin", capability,
		map[string]string{"decision": "approve"}, &begin); err != nil {
		return op.ID, fmt.Errorf("approval begin: %w", err)
	}
	raw, _ := json.Marshal(begin["public_key"])
	opts, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		return op.ID, err
	}
	u.cred.Counter++
	sealed, err := sealPasscode(begin, u.passcode)
	if err != nil {
		return op.ID, err
	}
	var res struct{ Status string }
	if err := webCall(ctx, u.hc, "POST", u.base+"/v1/web/operations/"+op.ID+"/approval/finish", capability, map[string]any{
		"ceremony_id": begin["ceremony_id"], "passcode": sealed,
		"credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(u.rp, u.auth, u.cred, *opts))}, &res); err != nil {
		return op.ID, fmt.Errorf("approval finish: %w", err)
	}
	if res.Status != "APPROVED" {
		return op.ID, fmt.Errorf("approval finish: status %q", res.Status)
	}
	return op.ID, nil
}

// sealPasscode seals the passcode to the ceremony's HPKE key (RFC 9180, base mode), as the
// hosted pages do.
func sealPasscode(begin map[string]any, passcode string) (map[string]string, error) {
	hp, _ := begin["hpke"].(map[string]any)
	info, _ := hp["info"].(map[string]any)
	pubB64, _ := hp["public_key"].(string)
	infoB64, _ := info["passcode"].(string)
	if pubB64 == "" || infoB64 == "" {
		return nil, errors.New("begin carries no HPKE parameters")
	}
	pub, _ := base64.RawURLEncoding.DecodeString(pubB64)
	inf, _ := base64.RawURLEncoding.DecodeString(infoB64)
	pk, err := hpke.DHKEM(ecdh.P256()).NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), inf)
	if err != nil {
		return nil, err
	}
	ct, err := s.Seal(nil, []byte(passcode))
	if err != nil {
		return nil, err
	}
	return map[string]string{"enc": base64.RawURLEncoding.EncodeToString(enc), "ct": base64.RawURLEncoding.EncodeToString(ct)}, nil
}
