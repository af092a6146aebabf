package fiberverify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/verify"
	"github.com/signet-sca/signet/txsign/verify/fiberverify"
)

var exampleNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func now() time.Time { return exampleNow }

// approved plays Signet: it signs the token of a payment approved with device key and PIN and
// records its JTI in the replay store gateways consume from.
func approved(key *ecdsa.PrivateKey, store *replay.Memory, jti, amount string) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://signet.bank.example", Subject: "customer-42", Audience: jwt.ClaimStrings{"payments"},
			IssuedAt: jwt.NewNumericDate(now()), ExpiresAt: jwt.NewNumericDate(now().Add(2 * time.Minute)), ID: jti,
		},
		Op: "3c7a1e52-9b1f-4a07-8d5e-6c0f2b1d9e10", DL: "4CNIYt2AY1nIf6O_rTD1J1W6EuFtpCXDjeOTWe6qg_g",
		AMR: []string{"hwk", "pin"},
		AuthorizationDetails: []verify.AuthorizationDetail{{
			Type:             verify.AuthorizationDetailPaymentInitiation,
			InstructedAmount: &verify.Amount{Amount: amount, Currency: "EUR"},
			CreditorAccount:  &verify.Account{IBAN: "DE89370400440532013000"},
		}},
	})
	tok.Header["typ"], tok.Header["kid"] = verify.TokenType, "2026-03"
	signed, err := tok.SignedString(key)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Record(context.Background(), jti, 2*time.Minute); err != nil {
		log.Fatal(err)
	}
	return signed
}

// Guard a fiber route: the token is checked against the JSON body, consumed, and its claims
// are in the handler's context.
func ExampleNew() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	store := replay.NewMemory(now)
	v, err := verify.New(verify.Config{
		Keys:   verify.StaticKeys{"2026-03": &key.PublicKey}, // a gateway: verify.NewJWKS(jwksURL)
		Issuer: "https://signet.bank.example", Audience: "payments",
		Replay: store, // a gateway: redisreplay, or a client of POST /v1/tokens/consume
		Now:    now,
	})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Post("/payments", fiberverify.New(v,
		fiberverify.WithBinding(func(c *fiber.Ctx) (verify.Binding, error) {
			var p struct {
				Amount, Currency, IBAN string
			}
			err := c.BodyParser(&p) // BodyParser copies: nothing kept points into fiber's buffers
			return verify.Binding{Amount: p.Amount, Currency: p.Currency, PayeeAccount: p.IBAN}, err
		}),
		fiberverify.WithErrorLog(func(c *fiber.Ctx, err error) { fmt.Println("refused:", err) }),
	), func(c *fiber.Ctx) error {
		claims, _ := fiberverify.Claims(c)
		return c.SendString("paid for " + claims.Subject)
	})

	token := approved(key, store, "jti-1", "49.90")
	for _, body := range []string{
		`{"amount":"499.00","currency":"EUR","iban":"DE89370400440532013000"}`,
		`{"amount":"49.90","currency":"EUR","iban":"DE89370400440532013000"}`,
	} {
		req := httptest.NewRequest("POST", "/payments", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := app.Test(req, -1)
		if err != nil {
			log.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(out))
	}
	// Output:
	// refused: verify: request does not match the approved transaction: amount
	// 403 {"type":"https://signet-sca.github.io/problems/binding_mismatch","title":"Request does not match the approved transaction","status":403,"code":"binding_mismatch"}
	// 200 paid for customer-42
}
