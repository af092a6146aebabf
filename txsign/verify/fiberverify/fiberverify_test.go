package fiberverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/verify"
)

var epoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func now() time.Time { return epoch }

type fixture struct {
	key   *ecdsa.PrivateKey
	store *replay.Memory
	v     *verify.Verifier
}

func newFixture(t *testing.T, rp verify.Consumer) *fixture {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: k, store: replay.NewMemory(now)}
	if rp == nil {
		rp = f.store
	}
	f.v, err = verify.New(verify.Config{
		Keys: verify.StaticKeys{"k1": &k.PublicKey}, Issuer: "https://signet.example", Audience: "payments",
		Now: now, Replay: rp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// token mints a transaction token with jwt/v5 and records its JTI, as the issuer does. Its
// amr is the given methods, or hwk and pin (two factors).
func (f *fixture) token(t *testing.T, amount string, amr ...string) string {
	t.Helper()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	dl := sha256.Sum256([]byte("op"))
	if amr == nil {
		amr = []string{"hwk", "pin"}
	}
	c := verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://signet.example", Subject: "u1", Audience: jwt.ClaimStrings{"payments"},
			IssuedAt: jwt.NewNumericDate(epoch), NotBefore: jwt.NewNumericDate(epoch),
			ExpiresAt: jwt.NewNumericDate(epoch.Add(2 * time.Minute)), ID: hex.EncodeToString(jti[:]),
		},
		Op: "op1", DL: base64.RawURLEncoding.EncodeToString(dl[:]), AMR: amr,
		AuthorizationDetails: []verify.AuthorizationDetail{{
			Type:             verify.AuthorizationDetailPaymentInitiation,
			InstructedAmount: &verify.Amount{Amount: amount, Currency: "EUR"},
			CreditorAccount:  &verify.Account{IBAN: "DE89370400440532013000"},
		}},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["typ"], tok.Header["kid"] = verify.TokenType, "k1"
	s, err := tok.SignedString(f.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Record(context.Background(), c.ID, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	return s
}

type consumerFunc func(context.Context, string) error

func (f consumerFunc) Consume(ctx context.Context, jti string) error { return f(ctx, jti) }

func bodyBinding(c *fiber.Ctx) (verify.Binding, error) {
	var p struct{ Amount, Currency, IBAN string }
	if err := json.Unmarshal(c.Body(), &p); err != nil {
		return verify.Binding{}, err
	}
	return verify.Binding{Amount: p.Amount, Currency: p.Currency, PayeeAccount: p.IBAN}, nil
}

func app(h fiber.Handler) *fiber.App {
	a := fiber.New()
	a.Post("/pay", h, func(c *fiber.Ctx) error {
		cl, ok := Claims(c)
		cl2, ok2 := verify.ClaimsFromContext(c.UserContext())
		if !ok || !ok2 || cl != cl2 {
			return c.SendStatus(http.StatusTeapot)
		}
		return c.SendString(cl.Op)
	})
	return a
}

func TestNew(t *testing.T) {
	f := newFixture(t, nil)
	down := newFixture(t, consumerFunc(func(context.Context, string) error { return replay.ErrUnavailable }))
	plain := app(New(f.v))
	bound := app(New(f.v, WithBinding(bodyBinding)))
	used := f.token(t, "100.00")
	bindTok := f.token(t, "100.00")
	const good = `{"Amount":"100.00","Currency":"EUR","IBAN":"DE89 3704 0044 0532 0130 00"}`

	type req struct {
		name   string
		a      *fiber.App
		header map[string]string
		body   string
		status int
		code   string
	}
	tests := []req{
		{"no token", plain, nil, "", 401, "invalid_token"},
		{"invalid token", plain, map[string]string{"Authorization": "Bearer x.y.z"}, "", 401, "invalid_token"},
		{"first use", plain, map[string]string{"Authorization": "Bearer " + used}, "", 200, ""},
		{"second use", plain, map[string]string{"Authorization": "Bearer " + used}, "", 409, "token_replayed"},
		{"replay store down", app(New(down.v)), map[string]string{"Txn-Token": down.token(t, "1.00")}, "", 503, "unavailable"},
		{"binding mismatch", bound, map[string]string{"Txn-Token": bindTok}, strings.Replace(good, "100.00", "100.01", 1), 403, "binding_mismatch"},
		{"binding unreadable", bound, map[string]string{"Txn-Token": bindTok}, "{", 400, "invalid_request"},
		{"binding ok after mismatch", bound, map[string]string{"Txn-Token": bindTok}, good, 200, ""},
		{"Txn-Token beside OAuth bearer", plain, map[string]string{"Txn-Token": f.token(t, "5.00"), "Authorization": "Bearer oauth"}, "", 200, ""},
		{"verify only", app(New(f.v, VerifyOnly())), map[string]string{"Authorization": "Bearer " + used}, "", 200, ""},
		{"one factor where SCA is required", app(New(f.v, WithACR(verify.ACRSCA))), map[string]string{"Txn-Token": f.token(t, "1.00", "hwk")}, "", 403, "insufficient_authentication"},
		{"one factor by default without a binding", plain, map[string]string{"Txn-Token": f.token(t, "1.00", "hwk")}, "", 200, ""},
		{"one factor on a bound route", bound, map[string]string{"Txn-Token": f.token(t, "100.00", "hwk")}, good, 403, "insufficient_authentication"},
		{"two factors where SCA is required", app(New(f.v, WithACR(verify.ACRSCA))), map[string]string{"Txn-Token": f.token(t, "1.00")}, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/pay", strings.NewReader(tt.body))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			resp, err := tt.a.Test(r, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d; want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.status == 200 {
				if string(body) != "op1" {
					t.Fatalf("body %q", body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p verify.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Code != tt.code || p.Status != tt.status {
				t.Fatalf("problem %s (%v); want code %s", body, err, tt.code)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestNewErrorLog(t *testing.T) {
	f := newFixture(t, nil)
	var logged []error
	a := app(New(f.v, WithErrorLog(func(c *fiber.Ctx, err error) {
		if c.Path() != "/pay" {
			t.Errorf("logged for %q", c.Path())
		}
		logged = append(logged, err)
	})))
	tok := f.token(t, "1.00")
	for _, want := range []error{nil, verify.ErrReplay, verify.ErrInvalidToken} {
		r := httptest.NewRequest(http.MethodPost, "/pay", nil)
		if want == verify.ErrInvalidToken {
			tok = "x.y.z"
		}
		r.Header.Set("Txn-Token", tok)
		resp, err := a.Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case want == nil && len(logged) != 0:
			t.Fatalf("an accepted token was logged: %v", logged)
		case want != nil && (len(logged) != 1 || !errors.Is(logged[0], want)):
			t.Fatalf("status %d logged %v; want one %v", resp.StatusCode, logged, want)
		}
		logged = nil
	}
}
