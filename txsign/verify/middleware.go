package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet-sca/signet/txsign/verify/internal/claimsctx"
)

// HeaderTxnToken carries the transaction token when Authorization is taken by something else
// (the client's OAuth access token, for instance).
const HeaderTxnToken = "Txn-Token"

// TokenFromHeaders picks the transaction token of a request: the Txn-Token header when
// present, otherwise the credentials of "Authorization: Bearer" (RFC 6750 §2.1; the scheme is
// case-insensitive, RFC 9110 §11.1). It returns "" when there is none.
func TokenFromHeaders(txnToken, authorization string) string {
	if t := strings.TrimSpace(txnToken); t != "" {
		return t
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// ClaimsFromContext returns the claims the middleware (or fiberverify) verified for this request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	return claimsctx.From[Claims](ctx)
}

// Problem is an RFC 9457 problem details object, the body of every refusal.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// ProblemTypeBase prefixes the stable problem type URIs (the same base as Signet's API).
const ProblemTypeBase = "https://signet-sca.github.io/problems/"

// errMissingToken and errBadBinding are middleware-only outcomes.
var (
	errMissingToken = errors.New("verify: no transaction token in the request")
	errBadBinding   = errors.New("verify: the request's payment fields cannot be read")
)

// ProblemFor maps a verification error to its HTTP problem. It never includes the error's
// text: the cause belongs in the log, and every token failure looks the same from outside.
// Unknown errors map to 503: the middleware fails closed.
func ProblemFor(err error) Problem {
	p := func(status int, code, title string) Problem {
		return Problem{Type: ProblemTypeBase + code, Title: title, Status: status, Code: code}
	}
	switch {
	case errors.Is(err, errMissingToken):
		pr := p(http.StatusUnauthorized, "invalid_token", "Transaction token required")
		pr.Detail = "send the transaction token in the Txn-Token header or as Authorization: Bearer"
		return pr
	case errors.Is(err, ErrInvalidToken):
		return p(http.StatusUnauthorized, "invalid_token", "Invalid transaction token")
	case errors.Is(err, ErrReplay):
		return p(http.StatusConflict, "token_replayed", "Transaction token already used")
	case errors.Is(err, ErrInsufficientAuthentication):
		return p(http.StatusForbidden, "insufficient_authentication", "The approval's authentication is too weak for this request")
	case errors.Is(err, ErrBindingMismatch):
		return p(http.StatusForbidden, "binding_mismatch", "Request does not match the approved transaction")
	case errors.Is(err, errBadBinding):
		return p(http.StatusBadRequest, "invalid_request", "The request's payment fields cannot be read")
	}
	return p(http.StatusServiceUnavailable, "unavailable", "Token verification temporarily unavailable")
}

// WriteProblem writes p as application/problem+json, with the headers its status calls for:
// WWW-Authenticate on 401 (RFC 9110 §15.5.2, RFC 6750 §3), Retry-After on 503.
func WriteProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	body, _ := json.Marshal(p)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	consume bool
	acr     string
	binding func(*http.Request) (Binding, error)
	onError func(*http.Request, error)
}

// WithACR sets the authentication the token must prove (ACRSCA or ACR1FA, see
// Claims.CheckAuthentication). Without it, a middleware with a binding (a payment) requires
// ACRSCA and one without requires ACR1FA.
func WithACR(acr string) MiddlewareOption { return func(c *middlewareConfig) { c.acr = acr } }

// VerifyOnly makes the middleware check tokens without consuming them: for a hop that is not
// where the token is spent (the spending service behind it must consume).
func VerifyOnly() MiddlewareOption { return func(c *middlewareConfig) { c.consume = false } }

// WithBinding makes the middleware check the request against the token (Claims.CheckBinding)
// before consuming it, so a tampered request is refused (403) without burning the token.
// extract reads amount, currency and payee from the request; if it reads the body it must
// leave r.Body readable for the next handler. An extract error answers 400.
func WithBinding(extract func(r *http.Request) (Binding, error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.binding = extract }
}

// WithErrorLog is called with every refusal's cause (for logs and metrics; never log the
// token itself).
func WithErrorLog(f func(r *http.Request, err error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.onError = f }
}

// Middleware guards a net/http handler with transaction tokens: it takes the token from
// Txn-Token or Authorization: Bearer, verifies it, checks the binding if configured, consumes
// the JTI (unless VerifyOnly) and passes the claims on in the request context
// (ClaimsFromContext). Refusals are problem+json: 401 missing or invalid token, 403 binding
// mismatch or insufficient authentication (WithACR), 409 already used, 503 keys or replay store unavailable.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := middlewareConfig{consume: true}
	for _, o := range opts {
		o(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var binding func() (Binding, error)
			if cfg.binding != nil {
				binding = func() (Binding, error) { return cfg.binding(r) }
			}
			token := TokenFromHeaders(r.Header.Get(HeaderTxnToken), r.Header.Get("Authorization"))
			claims, err := Check(r.Context(), v, token, cfg.consume, cfg.acr, binding)
			if err != nil {
				if cfg.onError != nil {
					cfg.onError(r, err)
				}
				WriteProblem(w, ProblemFor(err))
				return
			}
			next.ServeHTTP(w, r.WithContext(claimsctx.With(r.Context(), claims)))
		})
	}
}

// Check is the middleware's decision, shared with other HTTP frameworks (fiberverify):
// verify the token, check that it proves the authentication requireACR names, check the binding
// when binding is not nil, then consume the JTI when consume is set. requireACR "" is the
// default: ACRSCA when there is a binding (a payment: PSD2 RTS Art. 4 asks two independent
// elements), ACR1FA otherwise. A refused request does not burn the token. Its errors map to
// responses through ProblemFor.
func Check(ctx context.Context, v *Verifier, token string, consume bool, requireACR string, binding func() (Binding, error)) (*Claims, error) {
	if token == "" {
		return nil, errMissingToken
	}
	claims, err := v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if requireACR == "" && binding != nil {
		requireACR = ACRSCA
	}
	if err := claims.CheckAuthentication(requireACR); err != nil {
		return nil, err
	}
	if binding != nil {
		b, err := binding()
		if err != nil {
			return nil, errors.Join(errBadBinding, err)
		}
		if err := claims.CheckBinding(b); err != nil {
			return nil, err
		}
	}
	if consume {
		if err := v.Consume(ctx, claims); err != nil {
			return nil, err
		}
	}
	return claims, nil
}
