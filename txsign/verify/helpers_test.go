package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://signet.bank.example"
	testAudience = "payments-api"
)

var testEpoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// clock is an injected, shared clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testEpoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signer mints test tokens with jwt/v5 directly; the production minting lives in txsign.
type signer struct {
	kid string
	key *ecdsa.PrivateKey
}

func newSigner(t testing.TB, kid string) *signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, key: k}
}

func randomJTI(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func testDL() string {
	d := sha256.Sum256([]byte("operation"))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// validClaims are the claims of a fresh payment token issued at now.
func validClaims(t testing.TB, now time.Time) *Claims {
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "user-42",
			Audience:  jwt.ClaimStrings{testAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(120 * time.Second)),
			ID:        randomJTI(t),
		},
		Op:  "op_01JGZ8Q6M4X3T9W2R7K5N1B0CD",
		DL:  testDL(),
		AMR: []string{"hwk", "pin", "mfa"},
		ACR: "urn:signet:sca",
		AuthorizationDetails: []AuthorizationDetail{{
			Type:             AuthorizationDetailPaymentInitiation,
			InstructedAmount: &Amount{Amount: "100.00", Currency: "EUR"},
			CreditorName:     "ACME Energie GmbH",
			CreditorAccount:  &Account{IBAN: "DE89370400440532013000"},
		}},
	}
}

// mint signs claims as a transaction token; edit may change header and claims first.
func (s *signer) mint(t testing.TB, c *Claims, edit func(h map[string]any)) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = s.kid
	if edit != nil {
		edit(tok.Header)
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jwk renders the public key as a JWK.
func (s *signer) jwk(t testing.TB) map[string]any {
	t.Helper()
	p, err := s.key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": s.kid,
		"x": base64.RawURLEncoding.EncodeToString(p[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(p[33:65]),
	}
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
