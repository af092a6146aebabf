package txsign_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

// TestConsume: a transaction token is consumed once (409 after); a caller that requires strong customer
// authentication (PSD2 RTS Art. 4) is refused a single-factor approval before its token id is burnt, so
// the customer's approval is still there for a request it can pay; anything that is not a token Signet
// minted is a 400.
func TestConsume(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	cred, _ := deviceKey(t, st, uid)
	ctx := context.Background()
	token := func(amr ...string) (string, store.Operation) {
		op, _, err := svc.Create(ctx, "bank", payment(uid))
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
			Actor: "device", Verify: verified(amr...)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Token, op
	}
	consumed := func(tok, require string, op store.Operation, acr string) {
		t.Helper()
		claims, err := svc.Consume(ctx, tok, require)
		if err != nil || claims.Op != op.ID || claims.ACR != acr {
			t.Fatalf("Consume(require %q) = %+v, %v; want the claims of %s with acr %s", require, claims, err, op.ID, acr)
		}
		if _, err := svc.Consume(ctx, tok, require); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("Consume again (require %q) = %v, want 409", require, err)
		}
	}

	single, op := token("hwk")
	if _, err := svc.Consume(ctx, single, verify.ACRSCA); !errors.Is(err, txsign.ErrInsufficientAuthentication) ||
		!errors.Is(err, verify.ErrInsufficientAuthentication) {
		t.Fatalf("Consume(single factor, require SCA) = %v, want insufficient authentication", err)
	}
	consumed(single, verify.ACR1FA, op, verify.ACR1FA)

	strong, op := token("hwk", "pin")
	consumed(strong, verify.ACRSCA, op, verify.ACRSCA)
	plain, op := token("hwk")
	consumed(plain, "", op, verify.ACR1FA)

	_, err := svc.Consume(ctx, "eyJhbGciOiJub25lIn0.e30.", "")
	var ie *fault.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Problems, []fault.FieldProblem{{Field: "token", Reason: "is not a valid transaction token"}}) {
		t.Fatalf("Consume(not a token) = %v, want 400 on token", err)
	}
}

// TestConsumeNeedsIssuerAndAudience: a service configured without the issuer and audience its tokens must
// name consumes nothing, not even its own tokens (fail closed).
func TestConsumeNeedsIssuerAndAudience(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{})
	u := newUser(t, clk, st)
	cred, _ := deviceKey(t, st, u.ID)
	op, _, _ := svc.Create(context.Background(), "bank", payment(u.ID))
	res := decide(t, svc, op, cred, txsign.Approve)
	if claims, err := svc.Consume(context.Background(), res.Token, ""); claims != nil || err == nil ||
		err.Error() != "verify: Issuer is required\nverify: Audience is required" {
		t.Fatalf("Consume on a service without issuer and audience = %+v, %v", claims, err)
	}
}

// TestTokenLifetime: unless configured otherwise a token lives 120 s, and it can be consumed until the moment
// it expires: its id stays in the replay store at least that long.
func TestTokenLifetime(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	cred, _ := deviceKey(t, st, uid)
	op, _, _ := svc.Create(context.Background(), "bank", payment(uid))
	res := decide(t, svc, op, cred, txsign.Approve)
	if !res.TokenExpiresAt.Equal(clk.now().Add(120 * time.Second)) {
		t.Fatalf("token expires at %s, want 120 s from now (%s)", res.TokenExpiresAt, clk.now().Add(120*time.Second))
	}
	clk.advance(120 * time.Second)
	claims, err := svc.Consume(context.Background(), res.Token, "")
	if err != nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) != 120*time.Second {
		t.Fatalf("Consume at the token's expiry = %+v, %v; want its claims", claims, err)
	}
}
