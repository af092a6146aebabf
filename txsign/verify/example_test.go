package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/verify"
)

// exampleNow is the examples' clock, so that their tokens are always fresh.
var exampleNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func now() time.Time { return exampleNow }

// fakeSignet stands in for Signet in the examples: it signs transaction tokens as txsign does
// and records their JTIs in the replay store Signet shares with gateways. A real gateway gets
// the keys from Signet's JWKS (verify.NewJWKS) and the replay store from Redis
// (txsign/replay/redisreplay) or Signet's consume endpoint.
type fakeSignet struct {
	key    *ecdsa.PrivateKey
	replay *replay.Memory
}

func newFakeSignet() *fakeSignet {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	return &fakeSignet{key: key, replay: replay.NewMemory(now)}
}

// keys are the fake issuer's verification keys (a gateway: verify.NewJWKS(jwksURL)).
func (s *fakeSignet) keys() verify.StaticKeys {
	return verify.StaticKeys{"2026-03": &s.key.PublicKey}
}

// approve returns the token of a payment the user approved with the PIN on a device key.
func (s *fakeSignet) approve(jti, amount, iban string) string {
	claims := verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://signet.bank.example", Subject: "customer-42", Audience: jwt.ClaimStrings{"payments"},
			IssuedAt: jwt.NewNumericDate(now()), ExpiresAt: jwt.NewNumericDate(now().Add(2 * time.Minute)), ID: jti,
		},
		Op:  "3c7a1e52-9b1f-4a07-8d5e-6c0f2b1d9e10",
		DL:  "4CNIYt2AY1nIf6O_rTD1J1W6EuFtpCXDjeOTWe6qg_g", // the operation's dynamic-linking digest (SHA-256)
		AMR: []string{"hwk", "pin"},
		AuthorizationDetails: []verify.AuthorizationDetail{{
			Type:             verify.AuthorizationDetailPaymentInitiation,
			InstructedAmount: &verify.Amount{Amount: amount, Currency: "EUR"},
			CreditorName:     "ACME Energie GmbH",
			CreditorAccount:  &verify.Account{IBAN: iban},
		}},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = verify.TokenType
	tok.Header["kid"] = "2026-03"
	signed, err := tok.SignedString(s.key)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.replay.Record(context.Background(), jti, 2*time.Minute); err != nil {
		log.Fatal(err)
	}
	return signed
}

// Verify a token locally: signature, issuer, audience, lifetime and claims; nothing is consumed.
func ExampleVerifier_Verify() {
	signet := newFakeSignet()
	v, err := verify.New(verify.Config{
		Keys:     signet.keys(),
		Issuer:   "https://signet.bank.example",
		Audience: "payments",
		Now:      now, // leave unset: time.Now
	})
	if err != nil {
		log.Fatal(err)
	}
	token := signet.approve("jti-1", "120.00", "DE89370400440532013000")

	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	pay := claims.AuthorizationDetails[0]
	fmt.Println(claims.Subject, pay.InstructedAmount.Amount, pay.InstructedAmount.Currency, pay.CreditorAccount.Identifier())

	// The request must ask for what the user approved: same amount as a number, same payee.
	fmt.Println(claims.CheckBinding(verify.Binding{Amount: "120", Currency: "EUR", PayeeAccount: "de89 3704 0044 0532 0130 00"}))
	err = claims.CheckBinding(verify.Binding{Amount: "1200.00", Currency: "EUR", PayeeAccount: "DE89370400440532013000"})
	fmt.Println(errors.Is(err, verify.ErrBindingMismatch))

	// A token whose payload was changed no longer verifies.
	parts := strings.Split(token, ".")
	parts[1] = strings.Replace(parts[1], parts[1][10:14], "AAAA", 1)
	_, err = v.Verify(context.Background(), strings.Join(parts, "."))
	fmt.Println(errors.Is(err, verify.ErrInvalidToken))
	// Output:
	// customer-42 120.00 EUR DE89370400440532013000
	// <nil>
	// true
	// true
}

// Verify and consume: a token is accepted once. The second presentation is a replay (answer
// 409); a replay store that cannot answer is ErrUnavailable (answer 503), never success.
func ExampleVerifier_VerifyAndConsume() {
	signet := newFakeSignet()
	v, err := verify.New(verify.Config{
		Keys:     signet.keys(),
		Issuer:   "https://signet.bank.example",
		Audience: "payments",
		Replay:   signet.replay, // a gateway: redisreplay.New(client, prefix), or a client of POST /v1/tokens/consume
		Now:      now,
	})
	if err != nil {
		log.Fatal(err)
	}
	token := signet.approve("jti-2", "75.10", "DE89370400440532013000")

	for range 2 {
		claims, err := v.VerifyAndConsume(context.Background(), token)
		switch {
		case errors.Is(err, verify.ErrReplay):
			fmt.Println("409: already used")
		case err != nil:
			fmt.Println("refused:", verify.ProblemFor(err).Status)
		default:
			fmt.Println("accepted operation", claims.Op)
		}
	}
	// Output:
	// accepted operation 3c7a1e52-9b1f-4a07-8d5e-6c0f2b1d9e10
	// 409: already used
}

// Guard a net/http handler: the middleware takes the token from Txn-Token (or Authorization:
// Bearer), checks the request against it, consumes it and hands the claims to the handler.
func ExampleMiddleware() {
	signet := newFakeSignet()
	v, err := verify.New(verify.Config{Keys: signet.keys(), Issuer: "https://signet.bank.example",
		Audience: "payments", Replay: signet.replay, Now: now})
	if err != nil {
		log.Fatal(err)
	}
	pay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "paid for %s", claims.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /payments", verify.Middleware(v,
		// The payment fields of this request (a real API reads them from the body).
		verify.WithBinding(func(r *http.Request) (verify.Binding, error) {
			q := r.URL.Query()
			return verify.Binding{Amount: q.Get("amount"), Currency: q.Get("currency"), PayeeAccount: q.Get("iban")}, nil
		}),
	)(pay))

	token := signet.approve("jti-3", "19.99", "DE89370400440532013000")
	for _, query := range []string{
		"amount=1999&currency=EUR&iban=DE89370400440532013000",  // another amount: 403, the token is kept
		"amount=19.99&currency=EUR&iban=DE89370400440532013000", // what was approved: passes, once
		"amount=19.99&currency=EUR&iban=DE89370400440532013000", // again: 409
	} {
		req := httptest.NewRequest("POST", "/payments?"+query, nil)
		req.Header.Set(verify.HeaderTxnToken, token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 403 {"type":"https://signet-sca.github.io/problems/binding_mismatch","title":"Request does not match the approved transaction","status":403,"code":"binding_mismatch"}
	// 200 paid for customer-42
	// 409 {"type":"https://signet-sca.github.io/problems/token_replayed","title":"Transaction token already used","status":409,"code":"token_replayed"}
}
