package activation

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// TestInitAuditsOTP: the init event's evidence says whether the activation needs an OTP (never the OTP
// itself). Kills lifecycle.go:133 "otp": req.OTP != "" → ==.
func TestInitAuditsOTP(t *testing.T) {
	p := newPAFixture(t)
	for _, otp := range []string{"", "123456"} {
		a, err := p.s.Init(context.Background(), "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID, OTP: otp})
		if err != nil {
			t.Fatal(err)
		}
		ev := p.wantEvent(t, "powerauth.activation.init", audit.Success, "", a.Credential.ID)
		if ev["otp"] != (otp != "") {
			t.Fatalf("OTP %q: evidence otp = %v", otp, ev["otp"])
		}
	}
}

// TestGetIsForActivationsOnly: an activation id that names a credential of another kind (a passkey) is not
// found, for reading and for committing alike, and the passkey is left as it was. Kills lifecycle.go:183
// getActivation's (err == nil && c.Kind != KindPowerAuth) → err != nil.
func TestGetIsForActivationsOnly(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	pk := p.passkey(t)
	if _, err := p.s.Get(ctx, pk.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Get of a passkey: %v, want %v", err, fault.ErrNotFound)
	}
	if _, err := p.s.Commit(ctx, "test", pk.ID, ""); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Commit of a passkey: %v, want %v", err, fault.ErrNotFound)
	}
	if c := p.cred(t, pk.ID); c.Status != store.StatusActive || c.Kind != store.KindPasskey {
		t.Fatalf("passkey now %s %s", c.Kind, c.Status)
	}
}

// TestGetShowsCodeOnlyWhileCreated: the admin view of an activation (PowerAuth server getActivationStatus:
// activationCode and activationSignature while CREATED, none after) shows the code, its signature and the
// QR payload exactly as Init answered them while the activation is CREATED, none of them once it is
// ACTIVE, and the platform and device info the device sent at key exchange. Kills lifecycle.go:203 view's
// Status == StatusCreated → != and :198's len(c.Device) > 0 → <= 0.
func TestGetShowsCodeOnlyWhileCreated(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	p.dev.Platform, p.dev.DeviceInfo = "android", "Pixel 8"
	a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID, CommitPhase: CommitOnKeyExchange})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.s.Get(ctx, a.Credential.ID)
	if err != nil || got.Code != a.Code || !bytes.Equal(got.CodeSignature, a.CodeSignature) || got.QRPayload != a.QRPayload || got.QRPayload == "" {
		t.Fatalf("CREATED view: code %q, QR %q, %v; want %q, %q", got.Code, got.QRPayload, err, a.Code, a.QRPayload)
	}
	st, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = p.s.Get(ctx, st.ActivationID)
	if err != nil || got.Credential.Status != store.StatusActive || got.Code != "" || got.CodeSignature != nil || got.QRPayload != "" {
		t.Fatalf("ACTIVE view: %s, code %q, signature %x, QR %q, %v", got.Credential.Status, got.Code, got.CodeSignature, got.QRPayload, err)
	}
	if got.Platform != "android" || got.DeviceInfo != "Pixel 8" || got.Fingerprint != st.Fingerprint {
		t.Fatalf("ACTIVE view: platform %q, device %q, fingerprint %q; want android, Pixel 8, %q", got.Platform, got.DeviceInfo,
			got.Fingerprint, st.Fingerprint)
	}
}
