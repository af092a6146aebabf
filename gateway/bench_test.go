package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/internal/benchutil"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
	"github.com/signet-sca/signet/txsign/verify"
)

// okUpstream answers every proxied request in memory: the benchmark measures
// the gateway itself (parse, bind, verify, consume, proxy), not a network hop.
type okUpstream struct{}

func (okUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"status":"accepted"}`)), Request: r}, nil
}

// BenchmarkGatewayVerifyConsume is one guarded payment through the gateway's
// handler: token and binding checked, JTI consumed in Redis (SIGNET_TEST_REDIS_URL,
// else miniredis), request proxied. Ratio to one ECDSA verify and one GETDEL.
func BenchmarkGatewayVerifyConsume(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kid := txsign.Thumbprint(&key.PublicKey)
	jwks, _ := json.Marshal(map[string]any{"keys": []any{txsign.PublicJWK(&key.PublicKey, kid)}})
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwks) }))
	defer js.Close()
	redisURL := "redis://" + miniredis.RunT(b).Addr() + "/0"
	if u := os.Getenv(replaytest.EnvRedisURL); u != "" {
		redisURL = u
	}
	prefix := "signet-bench:" + replaytest.JTI(b) + ":"
	rs, err := redisreplay.Open(redisURL, prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	yes := true
	raw, _ := yaml.Marshal(&gateway.Config{Upstream: "http://upstream.invalid", JWKSURL: js.URL, JWKSAllowHTTP: true,
		Issuer: "https://signet.example", Audience: "payments",
		Consume: gateway.ConsumeConfig{RedisURL: redisURL, RedisPrefix: prefix},
		Routes: []gateway.Route{{Method: "POST", Path: "/payments", RequireToken: &yes,
			Binding: &gateway.Binding{Amount: "/amount", Currency: "/currency", PayeeAccount: "/creditor_account"}}}})
	cfg, err := gateway.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.WithUpstreamTransport(okUpstream{}))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	now := time.Now()
	tokens := make([]string, b.N)
	for i := range tokens {
		jti := replaytest.JTI(b)
		c := verify.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "https://signet.example", Subject: "cust",
			Audience: jwt.ClaimStrings{"payments"}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: jti}, Op: "op", DL: txsign.EncodeDigest([32]byte{7}), AMR: []string{"swk", "pin"}, ACR: verify.ACRSCA,
			AuthorizationDetails: []verify.AuthorizationDetail{{Type: "payment_initiation",
				InstructedAmount: &verify.Amount{Amount: "12.34", Currency: "EUR"},
				CreditorAccount:  &verify.Account{IBAN: "DE89370400440532013000"}}}}
		t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		t.Header["typ"], t.Header["kid"] = verify.TokenType, kid
		tokens[i], _ = t.SignedString(key)
		if err := rs.Record(ctx, jti, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	h := g.Handler()
	body := `{"amount":"12.34","currency":"EUR","creditor_account":"DE89370400440532013000"}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/payments", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 201 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	benchutil.Report(b, map[string]func() float64{
		"ecdsa-verify": func() float64 {
			d := [32]byte{1}
			sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
			return benchutil.Raw(b, 300, func() { ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) })
		},
		"redis-getdel": func() float64 {
			return benchutil.Raw(b, 300, func() { _ = rs.Consume(ctx, "absent") })
		},
	})
}
