package gateway

import (
	"net/http/httptest"
	"path"
	"strings"
	"testing"
)

// FuzzOriginalRequest: the original method and URI of a forward-auth check come from the client
// (nginx's $request_uri, Traefik's and Caddy's X-Forwarded-Uri). Whatever they hold, the check
// either refuses them or routes a request whose method is a token and whose path is absolute,
// clean and without a host, so the route table sees the path the proxy matched.
func FuzzOriginalRequest(f *testing.F) {
	for _, s := range []string{"/payments", "/payments?amount=1&x=%20", "/payments/", "/a/b/c", "/p%2Fq", "//payments",
		"/x/../payments", "/x/%2e%2e/payments", "http://evil.example/payments", "*", "", "/payments#frag", "/%zz"} {
		f.Add("POST", s, "")
		f.Add("GET", s, "Signet-Subject")
	}
	f.Fuzz(func(t *testing.T, method, uri, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" && headerName.MatchString(header) {
			r.Header.Set(header, "x")
		}
		o, reason := originalRequest(r, method, uri)
		if reason != "" {
			if o != nil {
				t.Fatal("a refusal returned a request")
			}
			return
		}
		if !methodToken.MatchString(o.Method) {
			t.Fatalf("method %q routed", o.Method)
		}
		p := o.URL.Path
		if p == "" || p[0] != '/' || o.URL.Host != "" || (path.Clean(p) != p && path.Clean(p)+"/" != p) {
			t.Fatalf("path %q (from %q) routed", p, uri)
		}
		for name := range o.Header {
			if headerIs(name, signetPrefix, true) {
				t.Fatalf("a request with %s routed", name)
			}
			for _, h := range methodOverrides {
				if headerIs(name, strings.ToLower(h), false) {
					t.Fatalf("a request with %s routed", name)
				}
			}
		}
	})
}
