package webauthn

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// returnPrefix is one allow-listed return_url prefix.
type returnPrefix struct {
	scheme, host, path string
}

func parseReturnPrefix(s string) (returnPrefix, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		return returnPrefix{}, fmt.Errorf("return URL prefix %q must be an absolute https URL (http only for localhost) without query or fragment", s)
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return returnPrefix{scheme: u.Scheme, host: strings.ToLower(u.Host), path: p}, nil
}

func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// CheckReturnURL validates an untrusted return_url against allow-listed
// prefixes: same scheme and host (port included), and a path that starts with
// the prefix's path at a segment boundary, with no dot segments, backslashes
// or encoded slashes that a browser could resolve elsewhere. It returns the
// URL to redirect to, or false.
func CheckReturnURL(prefixes []string, raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\\t\r\n <>\"'`") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	lower := strings.ToLower(p)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%2e") ||
		slices.Contains(strings.Split(p, "/"), "..") || slices.Contains(strings.Split(p, "/"), ".") || strings.HasPrefix(p, "//") {
		return "", false
	}
	for _, s := range prefixes {
		pre, err := parseReturnPrefix(s)
		if err != nil || u.Scheme != pre.scheme || strings.ToLower(u.Host) != pre.host {
			continue
		}
		if p == pre.path || strings.HasPrefix(p, strings.TrimSuffix(pre.path, "/")+"/") {
			return u.String(), true
		}
	}
	return "", false
}

// ReturnURL validates a return_url against the configured allow-list.
func (s *Service) ReturnURL(raw string) (string, bool) { return CheckReturnURL(s.cfg.ReturnURLs, raw) }

// OpenerOrigins are the origins an approval page may postMessage its outcome to.
func (s *Service) OpenerOrigins() []string { return append([]string(nil), s.cfg.OpenerOrigins...) }

// AllowedOrigin reports whether origin is exactly one of the WebAuthn origins
// (the browser API's CORS allow-list).
func (s *Service) AllowedOrigin(origin string) bool { return slices.Contains(s.cfg.RPOrigins, origin) }
