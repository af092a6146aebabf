package txsign_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
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

// TestTokenOutlivesLeeway: a verifier accepts a token until its leeway after exp (verify.DefaultLeeway here,
// up to verify.MaxLeeway at a gateway; RFC 7519 §4.1.4 allows that skew), so its id must still be in the
// replay store then; otherwise a token every check accepts would be answered "already used". The id is kept
// no longer than that, plus a second.
func TestTokenOutlivesLeeway(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	rp := replay.NewMemory(clk.now)
	svc := txsign.NewService(st, audit.New(st, clk.now, nil), testKeyring(t, clk, st), rp,
		txsign.Config{Issuer: "https://signet.example", Audience: "payments", Now: clk.now})
	u := newUser(t, clk, st)
	cred, _ := deviceKey(t, st, u.ID)
	ctx := context.Background()
	approved := func() txsign.Result {
		op, _, err := svc.Create(ctx, "bank", payment(u.ID))
		if err != nil {
			t.Fatal(err)
		}
		return decide(t, svc, op, cred, txsign.Approve)
	}

	res := approved()
	late := verify.DefaultLeeway - time.Millisecond
	clk.advance(res.TokenExpiresAt.Sub(clk.now()) + late)
	if _, err := svc.Consume(ctx, res.Token, ""); err != nil {
		t.Fatalf("Consume %s after exp (within the default leeway): %v", late, err)
	}

	for _, tc := range []struct {
		after time.Duration
		want  error
	}{{verify.MaxLeeway - time.Millisecond, nil}, {verify.MaxLeeway + time.Second + time.Millisecond, replay.ErrReplay}} {
		res := approved()
		var claims jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(res.Token, &claims); err != nil || claims.ID == "" {
			t.Fatalf("token id: %q, %v", claims.ID, err)
		}
		clk.advance(res.TokenExpiresAt.Sub(clk.now()) + tc.after)
		if err := rp.Consume(ctx, claims.ID); !errors.Is(err, tc.want) && err != tc.want {
			t.Fatalf("replay store, %s after exp: %v, want %v", tc.after, err, tc.want)
		}
	}
}

// TestTokenDescribesWhatWasApproved (RFC 9396 authorization_details, Berlin Group / OBIE shape): the token
// names what the customer approved, so a gateway can hold the request it guards to it: a payment as
// payment_initiation with its amount, creditor and account (IBAN, or "other" for an identifier that is not
// one) and remittance text; any other type under its own name, with only what it has.
func TestTokenDescribesWhatWasApproved(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	cred, _ := deviceKey(t, st, uid)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   txsign.NewOperation
		want verify.AuthorizationDetail
	}{
		{"payment to an IBAN", payment(uid), verify.AuthorizationDetail{Type: verify.AuthorizationDetailPaymentInitiation,
			InstructedAmount: &verify.Amount{Amount: "12.50", Currency: "EUR"}, CreditorName: "ACME GmbH",
			CreditorAccount: &verify.Account{IBAN: "DE89370400440532013000"}}},
		{"transfer to another identifier", txsign.NewOperation{UserID: uid, Type: "transfer", PayeeAccount: "0001-123-4567890",
			PayeeName: "Jan Novák", Amount: "100", Currency: "CZK", Text: "Invoice 7"},
			verify.AuthorizationDetail{Type: "transfer", InstructedAmount: &verify.Amount{Amount: "100.00", Currency: "CZK"},
				CreditorName: "Jan Novák", CreditorAccount: &verify.Account{Other: "0001-123-4567890"}, RemittanceInformationUnstructured: "Invoice 7"}},
		{"login", txsign.NewOperation{UserID: uid, Type: "login"}, verify.AuthorizationDetail{Type: "login"}},
	} {
		op, _, err := svc.Create(ctx, "bank", tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		res := decide(t, svc, op, cred, txsign.Approve)
		claims, err := svc.Consume(ctx, res.Token, "")
		if err != nil || len(claims.AuthorizationDetails) != 1 || !reflect.DeepEqual(claims.AuthorizationDetails[0], tc.want) {
			got, _ := json.Marshal(claims)
			want, _ := json.Marshal(tc.want)
			t.Errorf("%s: claims %s, %v; want authorization_details [%s]", tc.name, got, err, want)
		}
	}
}
