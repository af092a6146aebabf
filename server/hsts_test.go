package server_test

import (
	"testing"
)

// TestHSTS: with HSTS on (public URL https), every response carries Strict-Transport-Security
// (RFC 6797 §6.1), errors included; with it off (plain http) none does.
func TestHSTS(t *testing.T) {
	const want = "max-age=63072000; includeSubDomains"
	on := newHarnessWith(t, harnessOpts{hsts: true})
	off := newHarnessWith(t, harnessOpts{})
	requests := []struct{ name, method, path, auth string }{
		{"unauthenticated private route", "GET", "/v1/users", "-"},
		{"unknown path", "GET", "/nope", "-"},
		{"private route", "GET", "/v1/audit", ""},
		{"jwks", "GET", "/.well-known/jwks.json", "-"},
		{"hosted page", "GET", "/web/approve/x", "-"},
		{"health", "GET", "/healthz", "-"},
	}
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			if got := on.do(rq.method, rq.path, rq.auth, nil).header.Get("Strict-Transport-Security"); got != want {
				t.Errorf("https: Strict-Transport-Security = %q; want %q", got, want)
			}
			// Must pass: over plain http there is nothing to pin.
			if got := off.do(rq.method, rq.path, rq.auth, nil).header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("http: Strict-Transport-Security = %q; want none", got)
			}
		})
	}
}
