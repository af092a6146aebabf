package verify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay"
)

// paymentBinding reads {"amount","currency","creditor_iban"} from a JSON body and restores it.
func paymentBinding(r *http.Request) (Binding, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return Binding{}, err
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	var p struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
		IBAN     string `json:"creditor_iban"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Binding{}, err
	}
	return Binding{Amount: p.Amount, Currency: p.Currency, PayeeAccount: p.IBAN}, nil
}

const goodPayment = `{"amount":"100.00","currency":"EUR","creditor_iban":"DE89370400440532013000"}`

func TestMiddleware(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	keys := StaticKeys{"k1": &s.key.PublicKey}
	store := replay.NewMemory(c.Now)

	// recorded mints a token whose JTI the issuer recorded, as Signet does at approval.
	recorded := func(t *testing.T) string {
		cl := validClaims(t, c.Now())
		if err := store.Record(context.Background(), cl.ID, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		return s.mint(t, cl, nil)
	}
	down := consumerFunc(func(context.Context, string) error { return replay.ErrUnavailable })
	var (
		seen     *Claims
		seenBody string
	)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, ok := ClaimsFromContext(r.Context())
		if !ok {
			t.Error("no claims in the request context")
		}
		seen = cl
		body, _ := io.ReadAll(r.Body)
		seenBody = string(body)
		w.WriteHeader(http.StatusNoContent)
	})
	do := func(h http.Handler, header http.Header, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	withStore := Middleware(newTestVerifier(t, keys, c, store))(next)
	withBinding := Middleware(newTestVerifier(t, keys, c, store), WithBinding(paymentBinding))(next)
	storeDown := Middleware(newTestVerifier(t, keys, c, down))(next)
	verifyOnly := Middleware(newTestVerifier(t, keys, c, nil), VerifyOnly())(next)
	jwksDown := func() http.Handler {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		return Middleware(newTestVerifier(t, newTestJWKS(t, url, c), c, store))(next)
	}()
	expired := validClaims(t, c.Now().Add(-10*time.Minute))

	reused := recorded(t)
	if rec := do(withStore, bearer(reused), ""); rec.Code != http.StatusNoContent {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	mismatchToken := recorded(t)

	tests := []struct {
		name   string
		h      http.Handler
		header http.Header
		body   string
		status int
		code   string
	}{
		{"no token", withStore, nil, "", 401, "invalid_token"},
		{"Basic credentials", withStore, http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, "", 401, "invalid_token"},
		{"garbage token", withStore, bearer("abc.def.ghi"), "", 401, "invalid_token"},
		{"expired token", withStore, bearer(s.mint(t, expired, nil)), "", 401, "invalid_token"},
		{"second use", withStore, bearer(reused), "", 409, "token_replayed"},
		{"never recorded", withStore, bearer(s.mint(t, validClaims(t, c.Now()), nil)), "", 409, "token_replayed"},
		{"replay store down", storeDown, bearer(s.mint(t, validClaims(t, c.Now()), nil)), "", 503, "unavailable"},
		{"JWKS down", jwksDown, bearer(recorded(t)), "", 503, "unavailable"},
		{"no replay store configured", Middleware(newTestVerifier(t, keys, c, nil))(next), bearer(recorded(t)), "", 503, "unavailable"},
		{"binding: amount +0.01", withBinding, bearer(mismatchToken), strings.Replace(goodPayment, "100.00", "100.01", 1), 403, "binding_mismatch"},
		{"binding: other currency", withBinding, bearer(mismatchToken), strings.Replace(goodPayment, "EUR", "USD", 1), 403, "binding_mismatch"},
		{"binding: other payee", withBinding, bearer(mismatchToken), strings.Replace(goodPayment, "DE89370400440532013000", "GB29NWBK60161331926819", 1), 403, "binding_mismatch"},
		{"binding: unreadable body", withBinding, bearer(mismatchToken), "{", 400, "invalid_request"},

		{"Bearer", withStore, bearer(recorded(t)), "", 204, ""},
		{"Txn-Token beside another Authorization", withStore, http.Header{"Txn-Token": {recorded(t)}, "Authorization": {"Bearer some-oauth-access-token"}}, "", 204, ""},
		// The mismatching requests above did not burn the token: the genuine request passes.
		{"binding: genuine request after mismatches", withBinding, bearer(mismatchToken), goodPayment, 204, ""},
		{"verify only never consumes", verifyOnly, bearer(reused), "", 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen, seenBody = nil, ""
			rec := do(tt.h, tt.header, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d; want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 204 {
				if seen == nil || seen.Op == "" {
					t.Fatal("handler did not get the claims")
				}
				if seenBody != tt.body {
					t.Fatalf("handler got body %q; want %q", seenBody, tt.body)
				}
				return
			}
			if seen != nil {
				t.Fatal("handler ran for a refused request")
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.status || p.Code != tt.code || p.Type != ProblemTypeBase+tt.code || p.Title == "" {
				t.Fatalf("problem %+v; want status %d code %s", p, tt.status, tt.code)
			}
			if strings.Contains(rec.Body.String(), "verify:") {
				t.Fatalf("problem leaks internals: %s", rec.Body)
			}
			switch tt.status {
			case 401:
				if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Fatal("401 without WWW-Authenticate")
				}
			case 503:
				if rec.Header().Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
			}
		})
	}
}

func TestMiddlewareErrorLog(t *testing.T) {
	c := newClock()
	var logged error
	h := Middleware(newTestVerifier(t, StaticKeys{}, c, nil), WithErrorLog(func(_ *http.Request, err error) { logged = err }))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("handler ran") }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Txn-Token", "a.b.c")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !errors.Is(logged, ErrInvalidToken) {
		t.Fatalf("logged %v", logged)
	}
}

func TestProblemForUnknownErrorFailsClosed(t *testing.T) {
	if p := ProblemFor(errors.New("something else")); p.Status != http.StatusServiceUnavailable {
		t.Fatalf("unknown error → %d; want 503", p.Status)
	}
}
