package activation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// failingCeremonies fails every UpdateCeremony with err: a database outage while a token is removed.
type failingCeremonies struct {
	Store
	err error
}

func (f failingCeremonies) UpdateCeremony(context.Context, string, func(*store.Ceremony) error) (store.Ceremony, error) {
	return store.Ceremony{}, f.err
}

// events are the audit events of type typ, oldest first.
func (p *paFixture) events(t *testing.T, typ string) []store.AuditEvent {
	t.Helper()
	evs, _, err := p.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil || len(evs) == 1000 {
		t.Fatalf("%d audit events, %v", len(evs), err)
	}
	var out []store.AuditEvent
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestRemoveTokenOutcomes: removing a MAC token (PowerAuth Standard RESTful API, Remove Token) expires the
// activation's own token at once and audits the removal; another activation's token is refused as
// "token of another activation, or unknown" and stays valid; a store failure while removing answers that
// failure (store.ErrUnavailable, 503) with the token unchanged and no removal audited (only the verified
// signature, which Verify audits under the same type), never success.
// Kills token.go:104:11 (the store update's err != nil → ==: a failure was answered and audited as a
// removal, and a removal answered an empty id with nothing audited).
func TestRemoveTokenOutcomes(t *testing.T) {
	ctx := context.Background()
	const event = "powerauth.token.remove"
	setup := func(t *testing.T) (*paFixture, *device.State, string, time.Time) {
		t.Helper()
		p, st := newActivated(t, 0)
		id, exp := uuid.NewString(), p.clock.Now().Add(time.Hour)
		data, _ := json.Marshal(tokenData{ActivationID: st.ActivationID, SignatureType: "possession"})
		if err := p.st.CreateCeremony(ctx, &store.Ceremony{ID: id, Kind: ceremonyToken, UserID: p.user.ID, Data: data,
			ExpiresAt: exp, CreatedAt: p.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return p, st, id, exp
	}
	remove := func(t *testing.T, p *paFixture, st *device.State, tokenID string) (string, error) {
		t.Helper()
		body := []byte(fmt.Sprintf(`{"requestObject":{"tokenId":%q}}`, tokenID))
		h := p.sign(t, st, "POST", URITokenRemove, body, powerauth.SignaturePossession, "")
		return p.s.RemoveToken(ctx, SignedRequest{Method: "POST", Authorization: h, Body: body})
	}
	expiry := func(t *testing.T, p *paFixture, id string) time.Time {
		t.Helper()
		c, err := p.st.GetCeremony(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.ExpiresAt
	}
	t.Run("store failure answers the failure", func(t *testing.T) {
		p, st, id, exp := setup(t)
		p.s.store = failingCeremonies{Store: p.st, err: store.ErrUnavailable}
		got, err := remove(t, p, st, id)
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, fault.ErrUnavailable) || got != "" {
			t.Fatalf("got %q, %v; want %v", got, err, store.ErrUnavailable)
		}
		if e := expiry(t, p, id); !e.Equal(exp) {
			t.Fatalf("token expires %v, want %v unchanged", e, exp)
		}
		// The one event is the verified signature's (Verify audits it under the same type).
		if evs := p.events(t, event); len(evs) != 1 || len(evs[0].Evidence) == 0 {
			t.Fatalf("%d events %s, want only the signature's", len(evs), event)
		}
	})
	t.Run("another activation's token is refused", func(t *testing.T) {
		p, st, _, _ := setup(t)
		other := p.activate(t, p.user, 0)
		oid, exp := uuid.NewString(), p.clock.Now().Add(time.Hour)
		data, _ := json.Marshal(tokenData{ActivationID: other.ActivationID, SignatureType: "possession"})
		if err := p.st.CreateCeremony(ctx, &store.Ceremony{ID: oid, Kind: ceremonyToken, UserID: p.user.ID, Data: data,
			ExpiresAt: exp, CreatedAt: p.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		got, err := remove(t, p, st, oid)
		if got != "" {
			t.Fatalf("answered %q", got)
		}
		p.wantRefused(t, err, event, audit.Failure, "token of another activation, or unknown", st.ActivationID)
		if e := expiry(t, p, oid); !e.Equal(exp) {
			t.Fatalf("token expires %v, want %v unchanged", e, exp)
		}
	})
	t.Run("own token is removed", func(t *testing.T) {
		p, st, id, _ := setup(t)
		got, err := remove(t, p, st, id)
		if err != nil || got != id {
			t.Fatalf("got %q, %v; want %q", got, err, id)
		}
		if e := expiry(t, p, id); !e.Equal(p.clock.Now()) {
			t.Fatalf("token expires %v, want now %v", e, p.clock.Now())
		}
		p.wantEvent(t, event, audit.Success, "", st.ActivationID)
		if evs := p.events(t, event); len(evs) != 2 {
			t.Fatalf("%d events %s, want the signature's and the removal's", len(evs), event)
		}
	})
}

// fakeHook is the bank's CustomCredentials hook answering verdict, err.
type fakeHook struct {
	verdict CustomVerdict
	err     error
}

func (f fakeHook) VerifyCredentials(context.Context, string, map[string]string) (CustomVerdict, error) {
	return f.verdict, f.err
}

// TestCustomActivationOutcomes: activation via custom credentials (PowerAuth 3.x, Activation via Custom
// Credentials) activates the user the bank's hook names, by Signet user id or else by external id; a hook
// that refuses answers ERR_ACTIVATION (unauthenticated), one that fails answers 503 audited as "credential
// check unavailable: …", one naming no user Signet knows answers 503 audited as "the bank named an unknown
// user"; nothing is activated then. Kills custom.go:67:11 (the hook's err != nil → ==: a failing hook was
// audited as naming an unknown user, an accepting one was refused), :75:16 (v.UserID != "" → ==: a user id
// was never looked up) and :77:20 (v.ExternalID != "" → ==: an external id was never looked up).
func TestCustomActivationOutcomes(t *testing.T) {
	ctx := context.Background()
	const event = "powerauth.activation.custom"
	hookDown := fmt.Errorf("%w: hook timed out", ErrCredentialsUnavailable)
	refusals := []struct {
		name   string
		hook   fakeHook
		want   error
		reason string
	}{
		{"hook fails", fakeHook{err: hookDown},
			fault.ErrUnavailable, "credential check unavailable: " + hookDown.Error()},
		{"hook refuses", fakeHook{err: fmt.Errorf("%w: wrong password", ErrCredentialsRefused)},
			fault.ErrUnauthenticated, "the bank refused the credentials"},
		{"no user named", fakeHook{verdict: CustomVerdict{Commit: true}},
			fault.ErrUnavailable, "the bank named an unknown user"},
		{"malformed user id", fakeHook{verdict: CustomVerdict{UserID: "not-an-id"}},
			fault.ErrUnavailable, "the bank named an unknown user"},
		{"unknown external id", fakeHook{verdict: CustomVerdict{ExternalID: "nobody"}},
			fault.ErrUnavailable, "the bank named an unknown user"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			p := newPAFixture(t)
			p.s.cfg.CustomCredentials = tc.hook
			st, err := p.dev.ActivateWithCustomCredentials(ctx, p.cfg, map[string]string{"username": "jana"}, testPIN,
				device.ActivateOptions{Name: "phone"})
			if !errors.Is(err, tc.want) || st != nil {
				t.Fatalf("got %v, %v; want %v", st, err, tc.want)
			}
			if tc.want == fault.ErrUnavailable && errors.Is(err, fault.ErrUnauthenticated) {
				t.Fatalf("got %v, also unauthenticated", err)
			}
			p.wantEvent(t, event, audit.Failure, tc.reason, "")
			if creds, err := p.st.ListCredentials(ctx, store.CredentialFilter{Kind: store.KindPowerAuth}); err != nil || len(creds) != 0 {
				t.Fatalf("%d credentials stored, %v; want none", len(creds), err)
			}
		})
	}
	accepted := []struct {
		name   string
		hook   func(u store.User) CustomVerdict
		status store.Status
	}{
		{"by user id", func(u store.User) CustomVerdict { return CustomVerdict{UserID: u.ID, Commit: true} }, store.StatusActive},
		{"by external id", func(u store.User) CustomVerdict { return CustomVerdict{ExternalID: u.ExternalID} }, store.StatusPendingCommit},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			p := newPAFixture(t)
			u := p.newUser(t, "ext-2")
			p.s.cfg.CustomCredentials = fakeHook{verdict: tc.hook(u)}
			st, err := p.dev.ActivateWithCustomCredentials(ctx, p.cfg, map[string]string{"username": "jana"}, testPIN,
				device.ActivateOptions{Name: "phone"})
			if err != nil {
				t.Fatal(err)
			}
			if c := p.cred(t, st.ActivationID); c.UserID != u.ID || c.Status != tc.status {
				t.Fatalf("activation of user %q, %s; want %q, %s", c.UserID, c.Status, u.ID, tc.status)
			}
			if evs := p.events(t, event); len(evs) != 0 {
				t.Fatalf("custom activation audited as failed: %q", evs[0].Reason)
			}
		})
	}
}

// TestRemoveForRecovery: a recovery activation removes the activation it replaces (Wultra
// removeActivation(activation, null, true)), audited as "replaced by a recovery activation"; a store failure
// while removing it is returned, the activation stays ACTIVE and no removal is audited. Kills
// recovery.go:459:11 (the store update's err != nil → ==: a removal went unaudited and a failure was audited
// as a removal of nobody and answered success).
func TestRemoveForRecovery(t *testing.T) {
	ctx := context.Background()
	const event = "powerauth.activation.remove"
	t.Run("store failure is returned", func(t *testing.T) {
		p, st := newActivated(t, 0)
		p.hooked(func() error { return store.ErrUnavailable })
		if err := p.s.removeForRecovery(ctx, st.ActivationID); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("got %v, want %v", err, store.ErrUnavailable)
		}
		if c := p.cred(t, st.ActivationID); c.Status != store.StatusActive {
			t.Fatalf("activation %s, want ACTIVE", c.Status)
		}
		if evs := p.events(t, event); len(evs) != 0 {
			t.Fatalf("%d removals audited (first %q, credential %q), want none", len(evs), evs[0].Reason, evs[0].CredentialID)
		}
	})
	t.Run("removed and audited", func(t *testing.T) {
		p, st := newActivated(t, 0)
		if err := p.s.removeForRecovery(ctx, st.ActivationID); err != nil {
			t.Fatal(err)
		}
		if c := p.cred(t, st.ActivationID); c.Status != store.StatusRemoved || c.LookupKey != "" {
			t.Fatalf("activation %s, lookup key %q; want REMOVED without one", c.Status, c.LookupKey)
		}
		evs := p.events(t, event)
		if len(evs) != 1 || evs[0].Outcome != audit.Success || evs[0].Actor != "system" ||
			evs[0].Reason != "replaced by a recovery activation" || evs[0].CredentialID != st.ActivationID || evs[0].UserID != p.user.ID {
			t.Fatalf("removals audited %+v, want one by system for %s", evs, st.ActivationID)
		}
	})
}
