package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/signet-sca/signet/txsign/verify"
)

// Mode authz: `signet gateway` answers forward-auth checks instead of proxying. The proxy in front
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz HTTP service) sends
// a check request carrying the client's headers and the original method and URI, and, where it can,
// the body; the gateway runs the same checks as in mode proxy (token, authentication class, binding,
// and only then the single consume) and answers:
//
//   - allow: 200 with Signet-Operation, Signet-Subject and Idempotency-Key (the operation id), which
//     the proxy copies onto the request it forwards;
//   - deny: the status and problem document mode proxy answers (401, 403, 400, 409, 503, 404, 413),
//     with the problem also in the Signet-Problem header for proxies that cannot pass a check's body
//     on to the client (nginx auth_request).
//
// The JTI is consumed only on allow.

// HeaderProblem carries a refusal's problem document (compact JSON, ASCII) in mode authz.
const HeaderProblem = "Signet-Problem"

// allow answers a check with 200 and the verified identity (claims nil: an open route, no identity).
func allow(w http.ResponseWriter, claims *verify.Claims) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if claims != nil {
		h.Set(HeaderOperation, claims.Op)
		h.Set(HeaderSubject, claims.Subject)
		h.Set(HeaderIdempotencyKey, claims.Op)
	}
	w.WriteHeader(http.StatusOK)
}

// writeProblem writes p; in mode authz it also sets the Signet-Problem header.
func (g *Gateway) writeProblem(w http.ResponseWriter, p verify.Problem) {
	if g.cfg.Mode == ModeAuthz {
		if b, err := json.Marshal(p); err == nil && isPrintableASCII(b) {
			w.Header().Set(HeaderProblem, string(b))
		}
	}
	verify.WriteProblem(w, p)
}

func isPrintableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// authzHandler turns a check request into the request it checks and routes that.
func (g *Gateway) authzHandler(mux http.Handler) http.Handler {
	a := g.cfg.Authz
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, uri := r.Method, r.URL.RequestURI()
		if a.Original == "forwarded" {
			ms, us := r.Header.Values(a.MethodHeader), r.Header.Values(a.URIHeader)
			if len(ms) != 1 || len(us) != 1 {
				g.logger.ErrorContext(r.Context(), "forward-auth check without exactly one original method and URI header: check the proxy's configuration",
					"method_header", a.MethodHeader, "uri_header", a.URIHeader)
				g.writeProblem(w, verify.Problem{Type: verify.ProblemTypeBase + "authz_misconfigured",
					Title: "The check request does not name the request to check", Status: http.StatusInternalServerError,
					Code: "authz_misconfigured"})
				return
			}
			method, uri = strings.TrimSpace(ms[0]), strings.TrimSpace(us[0])
		} else if a.PathPrefix != "" {
			rest, ok := strings.CutPrefix(uri, a.PathPrefix)
			if !ok || (rest != "" && rest[0] != '/' && rest[0] != '?') {
				g.requests.WithLabelValues("unmatched", "not_found").Inc()
				g.writeProblem(w, notFound)
				return
			}
			if rest == "" || rest[0] == '?' {
				rest = "/" + rest
			}
			uri = rest
		}
		orig, reason := originalRequest(r, method, uri)
		if reason != "" {
			g.requests.WithLabelValues("unmatched", "bad_request").Inc()
			g.logger.InfoContext(r.Context(), "gateway refused a check", "status", 400, "cause", reason)
			g.writeProblem(w, verify.Problem{Type: verify.ProblemTypeBase + "invalid_request", Title: "Request refused",
				Status: http.StatusBadRequest, Detail: reason, Code: "invalid_request"})
			return
		}
		mux.ServeHTTP(w, orig)
	})
}

var notFound = verify.Problem{Type: verify.ProblemTypeBase + "not_found", Title: "Not found",
	Status: http.StatusNotFound, Code: "not_found"}

// originalRequest is the check request r rewritten to the request it checks: method and URI
// replaced, headers and body kept. It refuses (a non-empty reason) what the gateway cannot make
// the proxy in front drop: a client-sent Signet-* header or method-override header would reach the
// upstream with the request, so the check denies it instead of removing it as mode proxy does. It
// also refuses a path that is not in its clean form (dot segments, doubled slashes): the proxy may
// normalise it differently from the route table.
func originalRequest(r *http.Request, method, uri string) (*http.Request, string) {
	if method == "" || !methodToken.MatchString(method) {
		return nil, "the original method is not an HTTP method"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Path == "" || u.Path[0] != '/' || u.Host != "" || u.Fragment != "" {
		return nil, "the original URI is not a path and query"
	}
	if clean := path.Clean(u.Path); clean != u.Path && clean+"/" != u.Path {
		return nil, "the path is not in its canonical form"
	}
	for name := range r.Header {
		if headerIs(name, signetPrefix, true) {
			return nil, "the request carries a Signet-* header; only the gateway sets those"
		}
		for _, h := range methodOverrides {
			if headerIs(name, strings.ToLower(h), false) {
				return nil, "the request carries a method-override header (" + name + ")"
			}
		}
	}
	o := r.Clone(r.Context())
	o.Method = method
	o.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	o.RequestURI = uri
	o.Body = r.Body // the same body (Envoy with_request_body, Traefik forwardBody); Clone shares it anyway
	return o, ""
}
