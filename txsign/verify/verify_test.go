package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/txsign/replay"
)

func newTestVerifier(t testing.TB, keys KeySource, c *clock, rp Consumer) *Verifier {
	t.Helper()
	v, err := New(Config{Keys: keys, Issuer: testIssuer, Audience: testAudience, Now: c.Now, Replay: rp})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// reencode replaces the payload segment of token, keeping header and signature.
func reencode(t *testing.T, token string, edit func(m map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, _ := json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(out)
	return strings.Join(parts, ".")
}

func TestVerify(t *testing.T) {
	c := newClock()
	now := c.Now()
	good := newSigner(t, "k1")
	other := newSigner(t, "k1") // same kid, different key
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&good.key.PublicKey)
	pubRaw, _ := good.key.PublicKey.Bytes()
	v := newTestVerifier(t, StaticKeys{"k1": &good.key.PublicKey, "p384": &p384.PublicKey}, c, nil)

	claims := func(edit func(*Claims)) *Claims {
		cl := validClaims(t, now)
		if edit != nil {
			edit(cl)
		}
		return cl
	}
	header := func(edit func(map[string]any)) string { return good.mint(t, claims(nil), edit) }
	hmacWith := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header["typ"], tok.Header["kid"] = TokenType, "k1"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["typ"], tok.Header["kid"] = TokenType, "k1"
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	es384 := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES384, claims(nil))
		tok.Header["typ"], tok.Header["kid"] = TokenType, kid
		s, err := tok.SignedString(p384)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := good.mint(t, claims(nil), nil)
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 1
	flippedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	tests := []struct {
		name    string
		token   string
		wantErr error // nil: must verify
	}{
		// Algorithm confusion (RFC 8725 §2.1, §3.1).
		{"alg none", none(), ErrInvalidToken},
		{"HS256 keyed with the public key (DER)", hmacWith(pubDER), ErrInvalidToken},
		{"HS256 keyed with the public key (raw point)", hmacWith(pubRaw), ErrInvalidToken},
		{"ES384 with a P-384 key", es384("p384"), ErrInvalidToken},
		{"ES384 header on the ES256 kid", es384("k1"), ErrInvalidToken},
		{"alg header rewritten to ES384", header(func(h map[string]any) { h["alg"] = "ES384" }), ErrInvalidToken},
		// Explicit typing and key selection.
		{"missing typ", header(func(h map[string]any) { delete(h, "typ") }), ErrInvalidToken},
		{"typ JWT", header(func(h map[string]any) { h["typ"] = "JWT" }), ErrInvalidToken},
		{"typ at+jwt", header(func(h map[string]any) { h["typ"] = "at+jwt" }), ErrInvalidToken},
		{"typ not a string", header(func(h map[string]any) { h["typ"] = 1 }), ErrInvalidToken},
		{"missing kid", header(func(h map[string]any) { delete(h, "kid") }), ErrInvalidToken},
		{"empty kid", header(func(h map[string]any) { h["kid"] = "" }), ErrInvalidToken},
		{"kid not a string", header(func(h map[string]any) { h["kid"] = 7 }), ErrInvalidToken},
		{"unknown kid", header(func(h map[string]any) { h["kid"] = "nope" }), ErrInvalidToken},
		{"crit header", header(func(h map[string]any) { h["crit"] = []string{"exp"} }), ErrInvalidToken},
		{"same kid, another key", other.mint(t, claims(nil), nil), ErrInvalidToken},
		// Integrity.
		{"tampered amount", reencode(t, valid, func(m map[string]any) {
			m["authorization_details"].([]any)[0].(map[string]any)["instructedAmount"].(map[string]any)["amount"] = "1000.00"
		}), ErrInvalidToken},
		{"tampered jti", reencode(t, valid, func(m map[string]any) { m["jti"] = "x" }), ErrInvalidToken},
		{"flipped signature bit", flippedSig, ErrInvalidToken},
		{"signature removed", parts[0] + "." + parts[1] + ".", ErrInvalidToken},
		{"padded segment", parts[0] + "." + parts[1] + "=." + parts[2], ErrInvalidToken},
		{"two segments", parts[0] + "." + parts[1], ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"garbage", "not.a.jwt", ErrInvalidToken},
		{"oversized", strings.Repeat("a", MaxTokenSize+1), ErrInvalidToken},
		// Time (leeway 5 s).
		{"expired beyond leeway", good.mint(t, claims(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-130 * time.Second))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-6 * time.Second))
		}), nil), ErrInvalidToken},
		{"nbf beyond leeway", good.mint(t, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(6 * time.Second)) }), nil), ErrInvalidToken},
		{"iat in the future beyond leeway", good.mint(t, claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(6 * time.Second)) }), nil), ErrInvalidToken},
		{"missing exp", good.mint(t, claims(func(c *Claims) { c.ExpiresAt = nil }), nil), ErrInvalidToken},
		{"missing iat", good.mint(t, claims(func(c *Claims) { c.IssuedAt = nil }), nil), ErrInvalidToken},
		{"lifetime over 300 s", good.mint(t, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(301 * time.Second)) }), nil), ErrInvalidToken},
		// Issuer, audience and required claims.
		{"wrong iss", good.mint(t, claims(func(c *Claims) { c.Issuer = "https://evil.example" }), nil), ErrInvalidToken},
		{"iss differs in case", good.mint(t, claims(func(c *Claims) { c.Issuer = strings.ToUpper(testIssuer) }), nil), ErrInvalidToken},
		{"wrong aud", good.mint(t, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }), nil), ErrInvalidToken},
		{"missing aud", good.mint(t, claims(func(c *Claims) { c.Audience = nil }), nil), ErrInvalidToken},
		{"missing jti", good.mint(t, claims(func(c *Claims) { c.ID = "" }), nil), ErrInvalidToken},
		{"jti of 257 bytes", good.mint(t, claims(func(c *Claims) { c.ID = strings.Repeat("j", 257) }), nil), ErrInvalidToken},
		{"missing op", good.mint(t, claims(func(c *Claims) { c.Op = "" }), nil), ErrInvalidToken},
		{"missing dl", good.mint(t, claims(func(c *Claims) { c.DL = "" }), nil), ErrInvalidToken},
		{"dl not a digest", good.mint(t, claims(func(c *Claims) { c.DL = "AAAA" }), nil), ErrInvalidToken},
		{"dl with padding", good.mint(t, claims(func(c *Claims) { c.DL = testDL()[:42] + "=" }), nil), ErrInvalidToken},

		// Successes.
		{"valid", valid, nil},
		{"expired within leeway", good.mint(t, claims(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-124 * time.Second))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-4 * time.Second))
		}), nil), nil},
		{"nbf within leeway", good.mint(t, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(4 * time.Second)) }), nil), nil},
		{"no nbf", good.mint(t, claims(func(c *Claims) { c.NotBefore = nil }), nil), nil},
		{"typ with application/ prefix", header(func(h map[string]any) { h["typ"] = "application/txn+jwt" }), nil},
		{"typ upper case", header(func(h map[string]any) { h["typ"] = "TXN+JWT" }), nil},
		{"aud among several", good.mint(t, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"x", testAudience} }), nil), nil},
		{"jti of 256 bytes", good.mint(t, claims(func(c *Claims) { c.ID = strings.Repeat("j", 256) }), nil), nil},
		{"lifetime exactly 300 s", good.mint(t, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(300 * time.Second)) }), nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("Verify = %v, %v; want nil, %v", got, err, tt.wantErr)
				}
				if errors.Is(err, ErrUnavailable) {
					t.Fatalf("a bad token must not look like an outage: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if got.Op == "" || got.ID == "" || len(got.AuthorizationDetails) != 1 {
				t.Fatalf("claims not decoded: %+v", got)
			}
		})
	}
}

func TestVerifyDecodesClaims(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	v := newTestVerifier(t, StaticKeys{"k1": &s.key.PublicKey}, c, nil)
	want := validClaims(t, c.Now())
	got, err := v.Verify(t.Context(), s.mint(t, want, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !sameClaims(got, want) {
		t.Fatalf("claims\n got %+v\nwant %+v", got, want)
	}
}

// sameClaims compares claims by their JSON form (decoded NumericDates carry the local zone).
func sameClaims(a, b *Claims) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func TestNewRefusesBadConfig(t *testing.T) {
	keys := StaticKeys{}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the joined error
	}{
		{"leeway over 60 s", Config{Keys: keys, Issuer: "i", Audience: "a", Leeway: 61 * time.Second}, []string{"Leeway"}},
		{"negative leeway", Config{Keys: keys, Issuer: "i", Audience: "a", Leeway: -time.Second}, []string{"Leeway"}},
		{"negative lifetime", Config{Keys: keys, Issuer: "i", Audience: "a", MaxLifetime: -time.Second}, []string{"MaxLifetime"}},
		{"everything missing at once", Config{Leeway: time.Hour}, []string{"Keys", "Issuer", "Audience", "Leeway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err == nil || v != nil {
				t.Fatalf("New = %v, %v; want an error", v, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	if _, err := New(Config{Keys: keys, Issuer: "i", Audience: "a", Leeway: 60 * time.Second}); err != nil {
		t.Fatalf("leeway of exactly 60 s: %v", err)
	}
}

func TestZeroVerifierFailsClosed(t *testing.T) {
	var v *Verifier
	if _, err := v.Verify(t.Context(), "x.y.z"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("nil Verifier: %v", err)
	}
	if _, err := (&Verifier{}).VerifyAndConsume(t.Context(), "x.y.z"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("zero Verifier: %v", err)
	}
}

// consumerFunc adapts a function to Consumer.
type consumerFunc func(ctx context.Context, jti string) error

func (f consumerFunc) Consume(ctx context.Context, jti string) error { return f(ctx, jti) }

func TestVerifyAndConsume(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	keys := StaticKeys{"k1": &s.key.PublicKey}
	store := replay.NewMemory(c.Now)

	t.Run("second use is a replay", func(t *testing.T) {
		v := newTestVerifier(t, keys, c, store)
		cl := validClaims(t, c.Now())
		if err := store.Record(t.Context(), cl.ID, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		tok := s.mint(t, cl, nil)
		if _, err := v.VerifyAndConsume(t.Context(), tok); err != nil {
			t.Fatalf("first use: %v", err)
		}
		_, err := v.VerifyAndConsume(t.Context(), tok)
		if !errors.Is(err, ErrReplay) || !errors.Is(err, replay.ErrReplay) {
			t.Fatalf("second use = %v; want ErrReplay wrapping replay.ErrReplay", err)
		}
	})
	t.Run("never recorded is a replay", func(t *testing.T) {
		v := newTestVerifier(t, keys, c, store)
		if _, err := v.VerifyAndConsume(t.Context(), s.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrReplay) {
			t.Fatalf("unrecorded JTI = %v; want ErrReplay", err)
		}
	})
	t.Run("invalid token is not consumed", func(t *testing.T) {
		consumed := false
		v := newTestVerifier(t, keys, c, consumerFunc(func(context.Context, string) error { consumed = true; return nil }))
		cl := validClaims(t, c.Now())
		cl.Issuer = "x"
		if _, err := v.VerifyAndConsume(t.Context(), s.mint(t, cl, nil)); !errors.Is(err, ErrInvalidToken) || consumed {
			t.Fatalf("err = %v, consumed = %v", err, consumed)
		}
	})
	t.Run("replay store down is unavailable", func(t *testing.T) {
		for name, storeErr := range map[string]error{
			"ErrUnavailable":   replay.ErrUnavailable,
			"unexpected error": errors.New("boom"),
			"context deadline": context.DeadlineExceeded,
		} {
			v := newTestVerifier(t, keys, c, consumerFunc(func(context.Context, string) error { return storeErr }))
			got, err := v.VerifyAndConsume(t.Context(), s.mint(t, validClaims(t, c.Now()), nil))
			if !errors.Is(err, ErrUnavailable) || got != nil {
				t.Errorf("%s: VerifyAndConsume = %v, %v; want ErrUnavailable", name, got, err)
			}
		}
	})
	t.Run("no replay store configured", func(t *testing.T) {
		v := newTestVerifier(t, keys, c, nil)
		if _, err := v.VerifyAndConsume(t.Context(), s.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("VerifyAndConsume without store = %v; want ErrUnavailable", err)
		}
	})
}

func TestCheckBinding(t *testing.T) {
	base := func() *Claims { return validClaims(t, testEpoch) } // 100.00 EUR to DE89370400440532013000
	ok := Binding{Amount: "100.00", Currency: "EUR", PayeeAccount: "DE89370400440532013000"}
	with := func(edit func(*Binding)) Binding { b := ok; edit(&b); return b }
	tests := []struct {
		name   string
		claims func() *Claims
		b      Binding
		ok     bool
	}{
		{"amount +0.01", base, with(func(b *Binding) { b.Amount = "100.01" }), false},
		{"amount -0.01", base, with(func(b *Binding) { b.Amount = "99.99" }), false},
		{"amount x10", base, with(func(b *Binding) { b.Amount = "1000.00" }), false},
		{"another currency", base, with(func(b *Binding) { b.Currency = "USD" }), false},
		{"currency lower case", base, with(func(b *Binding) { b.Currency = "eur" }), false},
		{"another payee", base, with(func(b *Binding) { b.PayeeAccount = "GB29NWBK60161331926819" }), false},
		{"payee one digit off", base, with(func(b *Binding) { b.PayeeAccount = "DE89370400440532013001" }), false},
		{"empty amount", base, with(func(b *Binding) { b.Amount = "" }), false},
		{"empty currency", base, with(func(b *Binding) { b.Currency = "" }), false},
		{"empty payee", base, with(func(b *Binding) { b.PayeeAccount = "" }), false},
		{"exponent amount", base, with(func(b *Binding) { b.Amount = "1e2" }), false},
		{"fraction amount", base, with(func(b *Binding) { b.Amount = "100/1" }), false},
		{"negative amount", base, with(func(b *Binding) { b.Amount = "-100.00" }), false},
		{"signed amount", base, with(func(b *Binding) { b.Amount = "+100.00" }), false},
		{"amount of 65 characters", base, with(func(b *Binding) { b.Amount = strings.Repeat("0", 59) + "100.00" }), false},
		{"zero amount", func() *Claims { c := base(); c.AuthorizationDetails[0].InstructedAmount.Amount = "0.00"; return c },
			with(func(b *Binding) { b.Amount = "0.00" }), false},
		{"no payment_initiation", func() *Claims { c := base(); c.AuthorizationDetails = nil; return c }, ok, false},
		{"other detail type only", func() *Claims { c := base(); c.AuthorizationDetails[0].Type = "account_information"; return c }, ok, false},
		{"two payment_initiation", func() *Claims {
			c := base()
			c.AuthorizationDetails = append(c.AuthorizationDetails, c.AuthorizationDetails[0])
			return c
		}, ok, false},
		{"no instructed amount", func() *Claims { c := base(); c.AuthorizationDetails[0].InstructedAmount = nil; return c }, ok, false},
		{"no creditor account", func() *Claims { c := base(); c.AuthorizationDetails[0].CreditorAccount = nil; return c }, ok, false},
		{"empty creditor account", func() *Claims { c := base(); c.AuthorizationDetails[0].CreditorAccount = &Account{}; return c }, with(func(b *Binding) { b.PayeeAccount = " " }), false},
		{"nil claims", func() *Claims { return nil }, ok, false},

		{"exact", base, ok, true},
		{"amount without decimals", base, with(func(b *Binding) { b.Amount = "100" }), true},
		{"amount with extra zeros", base, with(func(b *Binding) { b.Amount = "0100.000" }), true},
		{"amount of 64 characters", base, with(func(b *Binding) { b.Amount = strings.Repeat("0", 58) + "100.00" }), true},
		{"IBAN paper format lower case", base, with(func(b *Binding) { b.PayeeAccount = "de89 3704 0044 0532 0130 00" }), true},
		{"other account", func() *Claims {
			c := base()
			c.AuthorizationDetails[0].CreditorAccount = &Account{Other: "0001-123-4567890"}
			return c
		}, with(func(b *Binding) { b.PayeeAccount = "0001-123-4567890" }), true},
		{"alongside another detail type", func() *Claims {
			c := base()
			c.AuthorizationDetails = append([]AuthorizationDetail{{Type: "account_information"}}, c.AuthorizationDetails...)
			return c
		}, ok, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.claims().CheckBinding(tt.b)
			if tt.ok != (err == nil) {
				t.Fatalf("CheckBinding(%+v) = %v; want ok=%v", tt.b, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBindingMismatch) {
				t.Fatalf("error %v is not ErrBindingMismatch", err)
			}
		})
	}
}

func TestTokenFromHeaders(t *testing.T) {
	tests := []struct{ txn, auth, want string }{
		{"", "", ""},
		{"", "Basic dXNlcjpwYXNz", ""},
		{"", "Bearer", ""},
		{"", "Bearertoken", ""},
		{"", "Bearer abc", "abc"},
		{"", "bearer abc", "abc"},
		{"", "BEARER  abc ", "abc"},
		{"txn", "Bearer access-token", "txn"},
		{" txn ", "", "txn"},
	}
	for _, tt := range tests {
		if got := TokenFromHeaders(tt.txn, tt.auth); got != tt.want {
			t.Errorf("TokenFromHeaders(%q, %q) = %q; want %q", tt.txn, tt.auth, got, tt.want)
		}
	}
}

// FuzzVerify feeds arbitrary strings, seeded with a valid token and every single-byte
// corruption of it. Nothing may panic, and whatever verifies must carry the original claims.
func FuzzVerify(f *testing.F) {
	c := newClock()
	s := newSigner(f, "k1")
	v := newTestVerifier(f, StaticKeys{"k1": &s.key.PublicKey}, c, nil)
	want := validClaims(f, c.Now())
	valid := s.mint(f, want, nil)
	f.Add(valid)
	for i := 0; i < len(valid); i++ {
		b := []byte(valid)
		b[i] ^= 0x01
		f.Add(string(b))
		b[i] = '.'
		f.Add(string(b))
	}
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.Verify(context.Background(), token)
		if err != nil {
			if got != nil {
				t.Fatal("claims returned with an error")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("a malformed token must be ErrInvalidToken, got %v", err)
			}
			return
		}
		if !sameClaims(got, want) {
			t.Fatalf("verified claims differ from the signed ones:\n%q", token)
		}
	})
}
