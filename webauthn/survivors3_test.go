package webauthn_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

// wantInvalid checks that err is a refusal of exactly one field for exactly reason.
func wantInvalid(t *testing.T, err error, field, reason string) {
	t.Helper()
	var inv *fault.InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != field || inv.Problems[0].Reason != reason {
		t.Fatalf("error %v, want %s %q", err, field, reason)
	}
}

// changePasscodeWith changes the session user's passcode from oldPC to newPC, d asserting exactly counter.
func (e *env) changePasscodeWith(sess string, d *device, counter uint32, oldPC, newPC string) error {
	e.t.Helper()
	b, err := e.svc.BeginPasscodeChange(e.ctx, sess)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
		Credential: d.assertWith(e.t, b.PublicKey, counter), Passcode: seal(e.t, b.HPKE, webauthn.FieldPasscode, oldPC),
		NewPasscode: seal(e.t, b.HPKE, webauthn.FieldNewPasscode, newPC)})
}

// TestUnmovedCounterWritesNothing: a passcode change (the path whose decision does not store the counter
// itself) asserted by an authenticator whose signature counter stays 0 (WebAuthn L3 §6.1.1: an authenticator
// may not implement a counter; §7.2 step 22 is then no clone sign) with the backup state unchanged writes
// nothing on the passkey: its Version stays. A counter that moved is written, and only then.
func TestUnmovedCounterWritesNothing(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-counterless-change")
	sess := e.session(u.ID)
	before := e.passkey(u.ID)
	if before.Counter != 0 {
		t.Fatalf("counter %d at registration, want 0", before.Counter)
	}
	if err := e.changePasscodeWith(sess, d, 0, testPasscode, "975319"); err != nil {
		t.Fatal(err)
	}
	if got := e.passkey(u.ID); got.Counter != 0 || got.Version != before.Version || got.Status != store.StatusActive {
		t.Fatalf("after counter 0: counter %d version %d status %s, want 0, the unchanged %d, ACTIVE",
			got.Counter, got.Version, got.Status, before.Version)
	}
	if err := e.changePasscodeWith(sess, d, 7, "975319", testPasscode); err != nil {
		t.Fatal(err)
	}
	if got := e.passkey(u.ID); got.Counter != 7 || got.Version != before.Version+1 {
		t.Fatalf("after counter 7: counter %d version %d, want 7 and %d", got.Counter, got.Version, before.Version+1)
	}
}

// TestStoredCounterBeyondUint32FailsClosed: a passkey's stored counter above 2^32-1 is written by no Signet
// path (registration and assertions store a uint32, or the max of the stored one and a uint32), only by
// whatever edits the database (a restore, a migration from another system). Such a counter is read as the
// highest a signature counter can be (WebAuthn L3 §6.1: 32 bits), not wrapped to a small one, so an
// assertion with any counter below it is a regression (§7.2 step 22): the passkey is blocked as
// CLONE_SUSPECTED and the approval refused.
func TestStoredCounterBeyondUint32FailsClosed(t *testing.T) {
	for _, stored := range []int64{1 << 32, 1<<32 + 1, 1<<32 + 5} {
		e := newEnv(t, nil)
		u, d := e.enrolled("cust-wide-counter")
		if _, err := e.st.UpdateCredential(e.ctx, e.passkey(u.ID).ID, func(c *store.Credential) error {
			c.Counter = stored
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		op := e.payment(u.ID, "1.00")
		b, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID,
			Credential: d.assertWith(t, b.PublicKey, 7), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode)})
		wantErr(t, err, fault.ErrUnauthenticated)
		if c := e.passkey(u.ID); c.Status != store.StatusBlocked || c.BlockReason != store.ReasonCloneSuspected {
			t.Fatalf("stored counter %d, asserted 7: credential %s %s, want BLOCKED CLONE_SUSPECTED", stored, c.Status, c.BlockReason)
		}
		if got := e.op(op.ID).Status; got != store.OpPending {
			t.Fatalf("operation %s, want PENDING", got)
		}
	}
}

// registrationUser is the user entity of the registration options as the browser receives them
// (WebAuthn L3 §5.4.3 PublicKeyCredentialUserEntity): id base64url, name, displayName.
func registrationUser(t *testing.T, o webauthn.RegistrationOptions) (id []byte, name, displayName string) {
	t.Helper()
	raw, err := json.Marshal(o.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PublicKey struct {
			User struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				DisplayName string `json:"displayName"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	id, err = base64.RawURLEncoding.DecodeString(v.PublicKey.User.ID)
	if err != nil {
		t.Fatalf("user.id %q: %v", v.PublicKey.User.ID, err)
	}
	return id, v.PublicKey.User.Name, v.PublicKey.User.DisplayName
}

// TestRegistrationUserName: the registration options name the user (user.name and user.displayName, WebAuthn
// L3 §5.4.3) by the display name the bank gave, and by the bank's external id when it gave none, so that the
// authenticator's account picker never shows an empty account.
func TestRegistrationUserName(t *testing.T) {
	e := newEnv(t, nil)
	named := e.createUser("cust-named") // display name "Jana Nováková"
	anonymous, _, err := e.acct.CreateUser(e.ctx, "bank", account.NewUser{ExternalID: "cust-anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u    store.User
		want string
	}{{anonymous, "cust-anonymous"}, {named, "Jana Nováková"}} {
		o, err := e.svc.BeginRegistration(e.ctx, e.session(c.u.ID))
		if err != nil {
			t.Fatal(err)
		}
		id, name, display := registrationUser(t, o)
		if name != c.want || display != c.want || !bytes.Equal(id, c.u.WebAuthnID) {
			t.Fatalf("user %s: options user {id %x, name %q, displayName %q}, want {%x, %q, %q}",
				c.u.ExternalID, id, name, display, c.u.WebAuthnID, c.want, c.want)
		}
	}
}

// TestPasskeyLabelBounds: a passkey label is refused when it holds a control character anywhere, its first
// character included (TrimSpace does not remove U+0001), and when it is longer than 64 characters counted in
// runes, not bytes: 64 × "é" (128 bytes) is accepted, 65 refused. Both paths that take a label, a
// registration and a rename, apply the same rule before anything is stored.
func TestPasskeyLabelBounds(t *testing.T) {
	e := newEnv(t, nil)
	u, _ := e.enrolled("cust-labels")
	sess := e.session(u.ID)
	pk := e.passkey(u.ID)
	const control, tooLong = "must not contain control characters", "must be at most 64 characters"
	for _, c := range []struct{ label, reason string }{
		{"\x01Phone", control},
		{" \x7fPhone", control},
		{strings.Repeat("é", 65), tooLong},
	} {
		_, err := e.svc.RenamePasskey(e.ctx, sess, pk.ID, c.label)
		wantInvalid(t, err, "label", c.reason)
		if got := e.passkey(u.ID); got.Label != pk.Label || got.Version != pk.Version {
			t.Fatalf("label %q refused but stored: %q (version %d, was %d)", c.label, got.Label, got.Version, pk.Version)
		}
		b, err := e.svc.BeginRegistration(e.ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.FinishRegistration(e.ctx, sess, webauthn.RegistrationResult{CeremonyID: b.CeremonyID,
			Credential: []byte("{}"), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode), Label: c.label})
		wantInvalid(t, err, "label", c.reason)
	}
	longest := strings.Repeat("é", 64)
	if v, err := e.svc.RenamePasskey(e.ctx, sess, pk.ID, longest); err != nil || v.Label != longest || e.passkey(u.ID).Label != longest {
		t.Fatalf("64-rune label: %+v %v", v, err)
	}
	// A registration with a 64-rune label stores it on the new passkey.
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	b, err := e.svc.BeginRegistration(e.ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b.PublicKey)
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	d.auth.Options.UserHandle = []byte(opts.UserID)
	v, err := e.svc.FinishRegistration(e.ctx, sess, webauthn.RegistrationResult{CeremonyID: b.CeremonyID,
		Credential: []byte(virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts)),
		Passcode:   seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode), Label: longest})
	if err != nil || v.Label != longest {
		t.Fatalf("registration with a 64-rune label: %+v %v", v, err)
	}
	if c, err := e.st.GetCredential(e.ctx, v.ID); err != nil || c.Label != longest {
		t.Fatalf("stored label %q %v", c.Label, err)
	}
}

// TestUserWithoutHandleGetsOne: a user stored before passkeys existed has no WebAuthn user handle; the first
// enrollment link gives it a fresh random 32-byte one (WebAuthn L3 §14.6.1: a random handle, no personal
// data), stored on the user and sent as the registration options' user.id. A user with a handle keeps it:
// later links do not touch the user, and every registration names the same handle, so that one account's
// passkeys are one account on the authenticator.
func TestUserWithoutHandleGetsOne(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.now().UTC().Truncate(time.Microsecond)
	legacy := store.User{ID: uuid.NewString(), ExternalID: "cust-legacy", DisplayName: "Legacy", CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(e.ctx, &legacy); err != nil {
		t.Fatal(err)
	}
	if got := e.user(legacy.ID); len(got.WebAuthnID) != 0 {
		t.Fatalf("stored with handle %x", got.WebAuthnID)
	}
	sess := e.session(legacy.ID)
	u := e.user(legacy.ID)
	if len(u.WebAuthnID) != 32 {
		t.Fatalf("handle %x after the enrollment link, want 32 bytes", u.WebAuthnID)
	}
	first, err := e.svc.BeginRegistration(e.ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := registrationUser(t, first); !bytes.Equal(id, u.WebAuthnID) {
		t.Fatalf("options user.id %x, want the stored handle %x", id, u.WebAuthnID)
	}
	// A second link and registration: same handle, the user not written again.
	sess2 := e.session(legacy.ID)
	if again := e.user(legacy.ID); !bytes.Equal(again.WebAuthnID, u.WebAuthnID) || again.Version != u.Version {
		t.Fatalf("second link: handle %x version %d, want %x and %d", again.WebAuthnID, again.Version, u.WebAuthnID, u.Version)
	}
	second, err := e.svc.BeginRegistration(e.ctx, sess2)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := registrationUser(t, second); !bytes.Equal(id, u.WebAuthnID) {
		t.Fatalf("second registration's user.id %x, want %x", id, u.WebAuthnID)
	}
	// Two such users get distinct handles.
	other := store.User{ID: uuid.NewString(), ExternalID: "cust-legacy-2", CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(e.ctx, &other); err != nil {
		t.Fatal(err)
	}
	e.session(other.ID)
	if h := e.user(other.ID).WebAuthnID; len(h) != 32 || bytes.Equal(h, u.WebAuthnID) {
		t.Fatalf("second legacy user's handle %x (first %x)", h, u.WebAuthnID)
	}
}
