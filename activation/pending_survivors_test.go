package activation

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/store"
)

var errAuditDown = errors.New("test: audit store down")

// auditDown is an audit store that refuses every event.
type auditDown struct{}

func (auditDown) AppendAudit(context.Context, *store.AuditEvent) error { return errAuditDown }

// withAuditDown runs fn with the service's audit log failing.
func (p *paFixture) withAuditDown(fn func()) {
	saved := p.s.audit
	p.s.audit = audit.New(auditDown{}, p.clock.Now, nil)
	defer func() { p.s.audit = saved }()
	fn()
}

// TestPendingFailureAudited: the failed attempt that removes a pending activation (its last allowed wrong
// OTP) is audited like any other, saying it removed it, after the activation's recovery codes are revoked;
// and a failed attempt the audit log cannot record fails the request with that error rather than pass
// unaudited (the attempt itself still counts). Kills lifecycle.go:306 (revokeCodesOf's err != nil → ==:
// the removing attempt unaudited) and :312 (the audit error dropped).
func TestPendingFailureAudited(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	init := func(maxFailed int) Activation {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID, OTP: "123456",
			CommitPhase: CommitOnKeyExchange, MaxFailedAttempts: maxFailed})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	wrongOTP := device.ActivateOptions{Name: "phone", OTP: "000000"}
	t.Run("the removing attempt", func(t *testing.T) {
		a := init(1)
		_, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, wrongOTP)
		ev := p.wantRefused(t, err, "powerauth.activation.key_exchange", audit.Failure, "wrong OTP", a.Credential.ID)
		if ev["removed"] != true {
			t.Fatalf("evidence %v, want removed", ev)
		}
		if c := p.wantCounter(t, a.Credential.ID, 0, 1); c.Status != store.StatusRemoved || c.LookupKey != "" {
			t.Fatalf("activation %s, lookup key %q; want REMOVED without one", c.Status, c.LookupKey)
		}
	})
	t.Run("audit log down", func(t *testing.T) {
		a := init(2)
		var err error
		p.withAuditDown(func() { _, err = p.dev.Activate(ctx, p.cfg, a.Code, testPIN, wrongOTP) })
		if !errors.Is(err, errAuditDown) {
			t.Fatalf("got %v, want %v", err, errAuditDown)
		}
		if c := p.wantCounter(t, a.Credential.ID, 0, 1); c.Status != store.StatusCreated {
			t.Fatalf("activation %s, want CREATED", c.Status)
		}
	})
}

// TestExpiryAudited: a pending activation found past its expiry is REMOVED and the expiry audited
// (powerauth.activation.expire, by the system, from its former status); if the audit log cannot record it,
// the read fails with that error (the activation is REMOVED all the same). Kills lifecycle.go:337
// (revokeCodesOf's err != nil → ==: the expiry unaudited) and :341 (the audit error dropped).
func TestExpiryAudited(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	init := func() string {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		p.clock.Advance(DefaultActivationTTL)
		return a.Credential.ID
	}
	t.Run("audited", func(t *testing.T) {
		id := init()
		a, err := p.s.Get(ctx, id)
		if err != nil || a.Credential.Status != store.StatusRemoved {
			t.Fatalf("got %s, %v; want REMOVED", a.Credential.Status, err)
		}
		ev := p.wantEvent(t, "powerauth.activation.expire", audit.Success, "", id)
		if ev["from"] != string(store.StatusCreated) {
			t.Fatalf("evidence %v, want from CREATED", ev)
		}
	})
	t.Run("audit log down", func(t *testing.T) {
		id := init()
		var err error
		p.withAuditDown(func() { _, err = p.s.Get(ctx, id) })
		if !errors.Is(err, errAuditDown) {
			t.Fatalf("got %v, want %v", err, errAuditDown)
		}
		if c := p.cred(t, id); c.Status != store.StatusRemoved {
			t.Fatalf("activation %s, want REMOVED", c.Status)
		}
	})
}
