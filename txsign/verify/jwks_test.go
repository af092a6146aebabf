package verify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// jwksServer serves a JWK Set that tests can change, and counts requests.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	hits         atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, cc := s.body, s.status, s.cacheControl
		s.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int, cacheControl string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status, s.cacheControl = body, status, cacheControl
}

func newTestJWKS(t *testing.T, url string, c *clock, opts ...JWKSOption) *JWKS {
	t.Helper()
	j, err := NewJWKS(url, append([]JWKSOption{WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJWKSUnknownKidRefreshesOnceThenNegativeCache(t *testing.T) {
	c := newClock()
	k1, k2 := newSigner(t, "k1"), newSigner(t, "k2")
	srv := newJWKSServer(t, jwksJSON(t, k1.jwk(t)))
	j := newTestJWKS(t, srv.URL, c)
	v := newTestVerifier(t, j, c, nil)
	ctx := t.Context()

	for i := 0; i < 10; i++ {
		if _, err := v.Verify(ctx, k1.mint(t, validClaims(t, c.Now()), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("known kid: %d JWKS requests; want 1", got)
	}

	// An unknown kid 31 s later: one refresh, then refused.
	c.Advance(31 * time.Second)
	unknown := newSigner(t, "ghost")
	if _, err := v.Verify(ctx, unknown.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid = %v; want ErrInvalidToken", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("after unknown kid: %d requests; want 2", got)
	}
	// The same kid again, even after the rate limit: negative cache, no request.
	c.Advance(31 * time.Second)
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, unknown.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("negative-cached kid = %v", err)
		}
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("negative cache: %d requests; want 2", got)
	}
	// Another unknown kid may refresh (rate limit passed) — once; a third within 30 s may not.
	if _, err := v.Verify(ctx, newSigner(t, "ghost2").mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, newSigner(t, "ghost3").mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("rate limit: %d requests; want 3", got)
	}

	// Rotation: the issuer publishes k2; a token signed by it is accepted once the rate
	// limit allows a refresh.
	srv.set(jwksJSON(t, k1.jwk(t), k2.jwk(t)), http.StatusOK, "")
	c.Advance(31 * time.Second)
	if _, err := v.Verify(ctx, k2.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if got := srv.hits.Load(); got != 4 {
		t.Fatalf("rotation: %d requests; want 4", got)
	}
}

func TestJWKSColdCacheServerDown(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, jwksJSON(t, s.jwk(t)))
	url := srv.URL
	srv.Close()
	v := newTestVerifier(t, newTestJWKS(t, url, c), c, nil)
	_, err := v.Verify(t.Context(), s.mint(t, validClaims(t, c.Now()), nil))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("cold cache, JWKS down = %v; want ErrUnavailable", err)
	}
}

func TestJWKSColdCacheBadResponses(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	for name, resp := range map[string]struct {
		status int
		body   string
	}{
		"HTTP 500":    {http.StatusInternalServerError, `{"keys":[]}`},
		"HTTP 404":    {http.StatusNotFound, ``},
		"HTML":        {http.StatusOK, `<html>captive portal</html>`},
		"no keys":     {http.StatusOK, `{}`},
		"over 1 MiB":  {http.StatusOK, `{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBody) + `"}`},
		"JSON array":  {http.StatusOK, `[]`},
		"JSON string": {http.StatusOK, `"keys"`},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(resp.body))
			srv.set([]byte(resp.body), resp.status, "")
			v := newTestVerifier(t, newTestJWKS(t, srv.URL, c), c, nil)
			if _, err := v.Verify(t.Context(), s.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify = %v; want ErrUnavailable", err)
			}
		})
	}
}

func TestJWKSColdRetryIsRateLimited(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, nil)
	srv.set(nil, http.StatusServiceUnavailable, "")
	v := newTestVerifier(t, newTestJWKS(t, srv.URL, c), c, nil)
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(t.Context(), s.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d requests to a failing JWKS within a second; want 1", got)
	}
	// Recovery: a second later the next request fetches again and succeeds.
	srv.set(jwksJSON(t, s.jwk(t)), http.StatusOK, "")
	c.Advance(time.Second)
	if _, err := v.Verify(t.Context(), s.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSStaleKeysWhileIssuerDown(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, jwksJSON(t, s.jwk(t)))
	srv.set(jwksJSON(t, s.jwk(t)), http.StatusOK, "public, max-age=60")
	v := newTestVerifier(t, newTestJWKS(t, srv.URL, c, WithMaxStale(10*time.Minute)), c, nil)
	ctx := t.Context()
	if _, err := v.Verify(ctx, s.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	// Within max-age: no request.
	c.Advance(59 * time.Second)
	if _, err := v.Verify(ctx, s.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d requests within max-age; want 1", got)
	}
	// Past max-age, the issuer is down: the stale key still verifies (one attempt made).
	srv.set(nil, http.StatusBadGateway, "")
	c.Advance(2 * time.Second)
	if _, err := v.Verify(ctx, s.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatalf("stale key while the issuer is down: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("%d requests after max-age; want 2", got)
	}
	// Up to MaxStale after the last fetch the key is served; a second later it is not.
	c.Advance(10*time.Minute - 61*time.Second)
	if _, err := v.Verify(ctx, s.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatalf("at MaxStale: %v", err)
	}
	c.Advance(time.Second)
	if _, err := v.Verify(ctx, s.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("beyond MaxStale = %v; want ErrUnavailable", err)
	}
}

func TestJWKSRemovedKeyStopsVerifying(t *testing.T) {
	c := newClock()
	k1, k2 := newSigner(t, "k1"), newSigner(t, "k2")
	srv := newJWKSServer(t, jwksJSON(t, k1.jwk(t), k2.jwk(t)))
	v := newTestVerifier(t, newTestJWKS(t, srv.URL, c), c, nil)
	if _, err := v.Verify(t.Context(), k1.mint(t, validClaims(t, c.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	srv.set(jwksJSON(t, k2.jwk(t)), http.StatusOK, "")
	c.Advance(6 * time.Minute) // past the default 5 min freshness
	if _, err := v.Verify(t.Context(), k1.mint(t, validClaims(t, c.Now()), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("retired key = %v; want ErrInvalidToken", err)
	}
}

// gatedTransport answers the JWK Set from memory once gate is closed, counting requests. Tests
// run in a synctest bubble use it: the bubble can tell when every goroutine waits on a channel,
// not when one waits on a socket.
type gatedTransport struct {
	body []byte
	gate chan struct{}
	once sync.Once
	hits atomic.Int32
}

// open lets requests through.
func (g *gatedTransport) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.hits.Add(1)
	select {
	case <-g.gate:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/jwk-set+json"}},
		Body: io.NopCloser(bytes.NewReader(g.body)), Request: r}, nil
}

func newGatedJWKS(t *testing.T, body []byte, c *clock, opts ...JWKSOption) (*JWKS, *gatedTransport) {
	t.Helper()
	g := &gatedTransport{body: body, gate: make(chan struct{})}
	t.Cleanup(g.open) // a failed test leaves no fetch blocked in its bubble
	return newTestJWKS(t, "https://signet.bank.example/.well-known/jwks.json", c, append(opts, WithHTTPClient(&http.Client{Transport: g}))...), g
}

func TestJWKSSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		s := newSigner(t, "k1")
		j, g := newGatedJWKS(t, jwksJSON(t, s.jwk(t)), c)
		v := newTestVerifier(t, j, c, nil)
		tok := s.mint(t, validClaims(t, c.Now()), nil)

		const n = 50
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := v.Verify(t.Context(), tok)
				errs <- err
			}()
		}
		// Every caller now waits: one in the fetch, the others behind it.
		synctest.Wait()
		if got := g.hits.Load(); got != 1 {
			t.Fatalf("%d concurrent cold lookups made %d requests; want 1", n, got)
		}
		g.open()
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := g.hits.Load(); got != 1 {
			t.Fatalf("%d requests after the flight; want 1", got)
		}
	})
}

func TestJWKSCallerCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		s := newSigner(t, "k1")
		j, g := newGatedJWKS(t, jwksJSON(t, s.jwk(t)), c)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := j.Key(ctx, "k1"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Key with expiring context = %v", err)
		}
		// The fetch went on without the impatient caller and serves the next one.
		synctest.Wait()
		if got := g.hits.Load(); got != 1 {
			t.Fatalf("%d requests in flight; want 1", got)
		}
		g.open()
		if _, err := j.Key(t.Context(), "k1"); err != nil {
			t.Fatalf("Key after the flight: %v", err)
		}
		if got := g.hits.Load(); got != 1 {
			t.Fatalf("%d requests; want 1", got)
		}
	})
}

func TestJWKSRefresh(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, jwksJSON(t, s.jwk(t)))
	j := newTestJWKS(t, srv.URL, c)
	if err := j.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Key(t.Context(), "k1"); err != nil || srv.hits.Load() != 1 {
		t.Fatalf("Key after Refresh = %v (%d requests)", err, srv.hits.Load())
	}
	srv.set(nil, http.StatusInternalServerError, "")
	if err := j.Refresh(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Refresh on a failing issuer = %v", err)
	}
}

func TestNewJWKSURL(t *testing.T) {
	tests := []struct {
		url  string
		opts []JWKSOption
		ok   bool
	}{
		{url: "http://signet.internal/.well-known/jwks.json"},
		{url: "ftp://signet.example/jwks"},
		{url: "/relative/jwks.json"},
		{url: "https://"},
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithMinRefreshInterval(0)}},
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithMaxStale(-time.Second)}},
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithMaxStale(0)}, ok: true}, // never serve stale keys
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithNegativeTTL(-time.Second)}},
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithNegativeTTL(0)}, ok: true}, // no negative cache
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithFetchTimeout(0)}},
		{url: "https://signet.example/.well-known/jwks.json", opts: []JWKSOption{WithDefaultRefresh(0)}},
		{url: "https://signet.example/.well-known/jwks.json", ok: true},
		{url: "http://127.0.0.1:8080/.well-known/jwks.json", ok: true},
		{url: "http://[::1]:8080/.well-known/jwks.json", ok: true},
		{url: "http://localhost:8080/.well-known/jwks.json", ok: true},
		{url: "http://signet.internal/.well-known/jwks.json", opts: []JWKSOption{AllowHTTP()}, ok: true},
	}
	for _, tt := range tests {
		_, err := NewJWKS(tt.url, tt.opts...)
		if tt.ok != (err == nil) {
			t.Errorf("NewJWKS(%q) = %v; want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestCacheMaxAge(t *testing.T) {
	tests := []struct {
		in   []string
		want time.Duration
	}{
		{nil, -1},
		{[]string{"public"}, -1},
		{[]string{"max-age=abc"}, -1},
		{[]string{"max-age=-5"}, -1},
		{[]string{"max-age=0"}, 0},
		{[]string{"max-age=2147483647"}, 2147483647 * time.Second},
		{[]string{"max-age=2147483648"}, -1}, // past 2^31 - 1 (RFC 9111 §1.2.2): ignored
		{[]string{"public, max-age=300"}, 300 * time.Second},
		{[]string{"Max-Age=60"}, 60 * time.Second},
		{[]string{`max-age="120"`}, 120 * time.Second},
		{[]string{"public", "max-age=30"}, 30 * time.Second},
		{[]string{"max-age=600, no-cache"}, 0},
		{[]string{"no-store"}, 0},
	}
	for _, tt := range tests {
		if got := cacheMaxAge(tt.in); got != tt.want {
			t.Errorf("cacheMaxAge(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	s := newSigner(t, "good")
	good := s.jwk(t)
	with := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		edit(m)
		return m
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384b, _ := p384.PublicKey.Bytes()
	zero32 := base64.RawURLEncoding.EncodeToString(make([]byte, 32))

	t.Run("documents", func(t *testing.T) {
		for _, doc := range []string{``, `null`, `[]`, `{}`, `{"keys":null}`, `{"keys":{}}`, `{"keys":"x"}`, `not json`} {
			if _, err := ParseJWKS([]byte(doc)); err == nil {
				t.Errorf("ParseJWKS(%q) accepted", doc)
			}
		}
		if keys, err := ParseJWKS([]byte(`{"keys":[]}`)); err != nil || len(keys) != 0 {
			t.Errorf("empty set = %v, %v", keys, err)
		}
	})

	tests := []struct {
		name string
		key  any
		ok   bool
	}{
		{"RSA key", map[string]any{"kty": "RSA", "kid": "good", "n": "AQAB", "e": "AQAB"}, false},
		{"P-384", with(func(m map[string]any) {
			m["crv"] = "P-384"
			m["x"] = base64.RawURLEncoding.EncodeToString(p384b[1:49])
			m["y"] = base64.RawURLEncoding.EncodeToString(p384b[49:])
		}), false},
		{"alg ES384", with(func(m map[string]any) { m["alg"] = "ES384" }), false},
		{"alg none", with(func(m map[string]any) { m["alg"] = "none" }), false},
		{"alg empty string", with(func(m map[string]any) { m["alg"] = "" }), false},
		{"use enc", with(func(m map[string]any) { m["use"] = "enc" }), false},
		{"key_ops sign only", with(func(m map[string]any) { m["key_ops"] = []string{"sign"} }), false},
		{"private key published", with(func(m map[string]any) { m["d"] = zero32 }), false},
		{"no kid", with(func(m map[string]any) { delete(m, "kid") }), false},
		{"kid not a string", with(func(m map[string]any) { m["kid"] = 1 }), false},
		{"short x", with(func(m map[string]any) { m["x"] = m["x"].(string)[:40] }), false},
		{"padded x", with(func(m map[string]any) { m["x"] = m["x"].(string) + "=" }), false},
		{"std base64 alphabet in x", with(func(m map[string]any) { m["x"] = "+" + m["x"].(string)[1:] }), false},
		{"off-curve point", with(func(m map[string]any) { m["y"] = zero32 }), false},
		{"x not a string", with(func(m map[string]any) { m["x"] = 5 }), false},
		{"not an object", "EC", false},

		{"complete", good, true},
		{"no alg, no use", with(func(m map[string]any) { delete(m, "alg"); delete(m, "use") }), true},
		{"key_ops with verify", with(func(m map[string]any) { m["key_ops"] = []string{"verify"} }), true},
		{"unknown members ignored", with(func(m map[string]any) { m["x5t#S256"] = "abc"; m["ext"] = true }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := json.Marshal(map[string]any{"keys": []any{tt.key}})
			keys, err := ParseJWKS(doc)
			if err != nil {
				t.Fatalf("ParseJWKS = %v", err)
			}
			if _, got := keys["good"]; got != tt.ok {
				t.Fatalf("key used = %v; want %v", got, tt.ok)
			}
		})
	}

	t.Run("duplicate kid dropped, others kept", func(t *testing.T) {
		other := newSigner(t, "good").jwk(t)
		third := newSigner(t, "third").jwk(t)
		keys, err := ParseJWKS(jwksJSON(t, good, other, third, good))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := keys["good"]; ok {
			t.Fatal("ambiguous kid kept")
		}
		if _, ok := keys["third"]; !ok {
			t.Fatal("unrelated key dropped")
		}
	})
}

// FuzzParseJWKS: no input panics, and every key returned is a P-256 point under a non-empty kid.
func FuzzParseJWKS(f *testing.F) {
	s := newSigner(f, "k1")
	valid := jwksJSON(f, s.jwk(f), map[string]any{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"})
	f.Add(valid)
	for i := 0; i < len(valid); i += 3 {
		b := append([]byte(nil), valid...)
		b[i] ^= 0x01
		f.Add(b)
	}
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"x","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || k == nil || k.Curve != elliptic.P256() {
				t.Fatalf("bad key %q: %+v", kid, k)
			}
			if _, err := k.Bytes(); err != nil {
				t.Fatalf("key %q is not a valid point: %v", kid, err)
			}
		}
	})
}

// TestJWKSTuning: each interval option changes what it names, and only that.
func TestJWKSTuning(t *testing.T) {
	t.Run("WithNegativeTTL", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			opts  []JWKSOption
			after time.Duration // since the refresh that did not find the kid
			hits  int32         // JWKS requests in all
		}{
			{"default 5 min: still refused without a request after 1 min", nil, 61 * time.Second, 1},
			{"1 min: still refused without a request before it runs out", []JWKSOption{WithNegativeTTL(time.Minute)}, 59 * time.Second, 1},
			{"1 min: looked up again once it ran out", []JWKSOption{WithNegativeTTL(time.Minute)}, time.Minute, 2},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := newClock()
				srv := newJWKSServer(t, jwksJSON(t, newSigner(t, "k1").jwk(t)))
				j := newTestJWKS(t, srv.URL, c, tt.opts...)
				for range 2 {
					if _, err := j.Key(t.Context(), "ghost"); !errors.Is(err, ErrUnknownKey) {
						t.Fatalf("unknown kid: %v", err)
					}
				}
				c.Advance(tt.after) // past the 30 s refresh interval in every row
				if _, err := j.Key(t.Context(), "ghost"); !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("unknown kid later: %v", err)
				}
				if got := srv.hits.Load(); got != tt.hits {
					t.Fatalf("%d requests; want %d", got, tt.hits)
				}
			})
		}
	})
	t.Run("WithDefaultRefresh", func(t *testing.T) {
		for _, tt := range []struct {
			name         string
			opts         []JWKSOption
			cacheControl string
			after        time.Duration
			hits         int32
		}{
			{"default 5 min: fresh after 4 min", nil, "", 4 * time.Minute, 1},
			{"default 5 min: refreshed at 5 min", nil, "", 5 * time.Minute, 2},
			{"2 min: fresh before", []JWKSOption{WithDefaultRefresh(2 * time.Minute)}, "", 2*time.Minute - time.Second, 1},
			{"2 min: refreshed at 2 min", []JWKSOption{WithDefaultRefresh(2 * time.Minute)}, "", 2 * time.Minute, 2},
			{"max-age wins over it", []JWKSOption{WithDefaultRefresh(2 * time.Minute)}, "max-age=600", 9 * time.Minute, 1},
			{"no-cache: fresh until the minimum interval", nil, "no-cache", 29 * time.Second, 1},
			{"no-cache: refreshed at the minimum interval", nil, "no-cache", 30 * time.Second, 2},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := newClock()
				srv := newJWKSServer(t, jwksJSON(t, newSigner(t, "k1").jwk(t)))
				srv.set(jwksJSON(t, newSigner(t, "k1").jwk(t)), http.StatusOK, tt.cacheControl)
				j := newTestJWKS(t, srv.URL, c, tt.opts...)
				if _, err := j.Key(t.Context(), "k1"); err != nil {
					t.Fatal(err)
				}
				c.Advance(tt.after)
				if _, err := j.Key(t.Context(), "k1"); err != nil {
					t.Fatal(err)
				}
				if got := srv.hits.Load(); got != tt.hits {
					t.Fatalf("%d requests; want %d", got, tt.hits)
				}
			})
		}
	})
	t.Run("WithFetchTimeout", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			opts []JWKSOption
			want time.Duration
		}{
			{"default 10 s", nil, 10 * time.Second},
			{"2 s", []JWKSOption{WithFetchTimeout(2 * time.Second)}, 2 * time.Second},
		} {
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					// An issuer that never answers: the fetch gives up at the timeout, on
					// the bubble's clock.
					j, _ := newGatedJWKS(t, nil, newClock(), tt.opts...)
					start := time.Now()
					_, err := j.Key(t.Context(), "k1")
					if took := time.Since(start); !errors.Is(err, ErrUnavailable) || took != tt.want {
						t.Fatalf("Key = %v after %s; want ErrUnavailable after %s", err, took, tt.want)
					}
				})
			})
		}
	})
}

// TestJWKSBodyLimit: a key set of exactly 1 MiB is read; one byte more is refused unread.
func TestJWKSBodyLimit(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	set := jwksJSON(t, s.jwk(t))
	for _, tt := range []struct {
		size int
		ok   bool
	}{{maxJWKSBody, true}, {maxJWKSBody + 1, false}} {
		body := append(append([]byte{}, set...), bytes.Repeat([]byte(" "), tt.size-len(set))...)
		srv := newJWKSServer(t, body)
		v := newTestVerifier(t, newTestJWKS(t, srv.URL, c), c, nil)
		_, err := v.Verify(t.Context(), s.mint(t, validClaims(t, c.Now()), nil))
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrUnavailable) {
			t.Errorf("a key set of %d bytes: Verify = %v", tt.size, err)
		}
	}
}

// TestJWKSUnknownKidAtMinRefresh: a kid the set does not hold is looked up again once the minimum refresh
// interval since the last fetch has passed, and not a second before.
func TestJWKSUnknownKidAtMinRefresh(t *testing.T) {
	for _, tt := range []struct {
		after time.Duration
		hits  int32
	}{{29 * time.Second, 1}, {30 * time.Second, 2}} {
		c := newClock()
		srv := newJWKSServer(t, jwksJSON(t, newSigner(t, "k1").jwk(t)))
		j := newTestJWKS(t, srv.URL, c)
		if _, err := j.Key(t.Context(), "k1"); err != nil {
			t.Fatal(err)
		}
		c.Advance(tt.after)
		if _, err := j.Key(t.Context(), "k2"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid after %s: %v", tt.after, err)
		}
		if got := srv.hits.Load(); got != tt.hits {
			t.Errorf("unknown kid after %s: %d requests; want %d", tt.after, got, tt.hits)
		}
	}
}

// TestJWKSNegativeCacheHoldsSeveralKids: a second unknown kid does not push the first out of the negative
// cache, so the first is still answered without a request.
func TestJWKSNegativeCacheHoldsSeveralKids(t *testing.T) {
	c := newClock()
	srv := newJWKSServer(t, jwksJSON(t, newSigner(t, "k1").jwk(t)))
	j := newTestJWKS(t, srv.URL, c)
	if _, err := j.Key(t.Context(), "k1"); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"ghost-a", "ghost-b", "ghost-a"} {
		c.Advance(30 * time.Second) // the minimum refresh interval: an unknown kid may be looked up
		if _, err := j.Key(t.Context(), kid); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("%s: %v", kid, err)
		}
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("%d requests; want 3 (the set, ghost-a, ghost-b; ghost-a again from the negative cache)", got)
	}
}

// TestJWKSNegativeCacheBound: the negative cache holds at most maxNegative unknown kids; the one that would
// exceed it empties the cache first (a memory bound against a flood of made-up kids), so a kid remembered
// before is fetched for again.
func TestJWKSNegativeCacheBound(t *testing.T) {
	c := newClock()
	srv := newJWKSServer(t, jwksJSON(t, newSigner(t, "k1").jwk(t)))
	j := newTestJWKS(t, srv.URL, c)
	if _, err := j.Key(t.Context(), "k1"); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	for i := range maxNegative - 1 { // remembered as if each had been looked up now
		j.negative[fmt.Sprintf("ghost-%d", i)] = c.Now()
	}
	j.mu.Unlock()
	lookup := func(kid string) {
		t.Helper()
		c.Advance(30 * time.Second) // the minimum refresh interval
		if _, err := j.Key(t.Context(), kid); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("%s: %v", kid, err)
		}
	}
	lookup("the last that fits") // the cache is full now
	lookup("one too many")       // emptied first
	before := srv.hits.Load()
	lookup("ghost-0")
	if got := srv.hits.Load() - before; got != 1 {
		t.Fatalf("a kid remembered before the cache was emptied: %d fetches, want 1", got)
	}
	j.mu.Lock()
	n := len(j.negative)
	j.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d kids remembered, want 2 (one too many, ghost-0)", n)
	}
}
