package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const validConfig = `
listen: ":8000"
upstream: "http://127.0.0.1:9000"
jwks_url: "https://signet.example/.well-known/jwks.json"
issuer: "https://signet.example"
audience: "signet-gateway"
consume:
  redis_url: "redis://127.0.0.1:6379/0"
routes:
  - method: POST
    path: /payments
    binding:
      amount: /amount
      currency: /currency
      payee_account: /creditor/account
  - method: PUT
    path: /payments/{id}
    binding: {amount: "header:X-Amount", currency: "query:currency", payee_account: "/a~1b~0c"}
  - method: GET
    path: /payments
    require_token: false
`

const signetConfig = `
upstream: "https://payments.internal"
jwks_url: "http://signet:8080/.well-known/jwks.json"
jwks_allow_http: true
issuer: "http://localhost:8080"
audience: "signet-gateway"
admin_listen: ":9100"
unmatched: proxy
leeway: 10s
consume:
  signet_url: "http://signet:8080"
  api_key_file: /run/secrets/signet-api-key
  timeout: 2s
routes:
  - {method: "*", path: /metrics, unbound: true}
`

// authzConfig is a forward-auth check endpoint for Envoy (original: request).
const authzConfig = `
mode: authz
listen: "127.0.0.1:8001"
admin_listen: "127.0.0.1:9101"
jwks_url: "https://signet.example/.well-known/jwks.json"
issuer: "https://signet.example"
audience: "signet-gateway"
consume:
  redis_url: "redis://127.0.0.1:6379/0"
authz:
  original: request
  path_prefix: /check
unmatched: allow
routes:
  - method: POST
    path: /metrics
    binding: {amount: /amount, currency: /currency, payee_account: /creditor/account}
`

func TestParseRefusesBadConfigs(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(validConfig, old, new, 1) }
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty", "", []string{"empty"}},
		{"not YAML", "{{", []string{"gateway config"}},
		{"two documents", validConfig + "\n---\nlisten: x\n", []string{"more than one YAML document"}},
		{"unknown key (misspelt binding)", edit("    binding:\n      amount", "    bindings:\n      amount"), []string{"bindings"}},
		{"no upstream", edit(`upstream: "http://127.0.0.1:9000"`, ""), []string{"upstream is required"}},
		{"plain http JWKS on a remote host", edit("https://signet.example/.well-known", "http://signet.example/.well-known"), []string{"jwks_url must be https"}},
		{"no issuer and no audience", edit(`issuer: "https://signet.example"`+"\naudience: \"signet-gateway\"", ""), []string{"issuer is required", "audience is required"}},
		{"no consume", edit("consume:\n  redis_url: \"redis://127.0.0.1:6379/0\"", ""), []string{"redis_url or signet_url is required"}},
		{"both consume modes", edit(`redis_url: "redis://127.0.0.1:6379/0"`, `redis_url: "redis://127.0.0.1:6379/0"`+"\n  signet_url: https://s.example"), []string{"not both"}},
		{"signet consume without key", edit(`redis_url: "redis://127.0.0.1:6379/0"`, `signet_url: "https://s.example"`), []string{"api_key"}},
		{"bad redis scheme", edit("redis://127.0.0.1", "http://127.0.0.1"), []string{"redis:// or rediss://"}},
		{"binding incomplete", edit("      payee_account: /creditor/account\n", ""), []string{"payee_account: is required"}},
		{"binding source unknown", edit("amount: /amount", "amount: body.amount"), []string{"must be a JSON pointer"}},
		{"bad JSON pointer escape", edit("amount: /amount", "amount: /am~2ount"), []string{"~ must be followed by 0 or 1"}},
		{"bad header name", edit(`"header:X-Amount"`, `"header:X Amount"`), []string{"not a valid header name"}},
		{"binding without token", edit("    require_token: false", "    require_token: false\n    binding: {amount: /a, currency: /c, payee_account: /p}"), []string{"binding but require_token: false"}},
		{"bad method", edit("method: PUT", "method: 'P UT'"), []string{"not an HTTP method"}},
		{"relative path", edit("path: /payments/{id}", "path: payments"), []string{"must start with /"}},
		{"reserved path", edit("path: /payments/{id}", "path: /metrics"), []string{"served by the gateway itself"}},
		{"conflicting routes", edit("method: PUT\n    path: /payments/{id}", "method: POST\n    path: /payments"), []string{"routes[1]"}},
		{"bad wildcard", edit("path: /payments/{id}", "path: /payments/{i-d}"), []string{"routes[1]"}},
		{"catch-all route", edit("method: PUT\n    path: /payments/{id}", "method: '*'\n    path: /"), []string{"catch-all"}},
		{"no guarded route", "upstream: http://127.0.0.1:1\njwks_url: https://s.example/j\nissuer: i\naudience: a\nconsume: {redis_url: 'redis://r:1'}\nroutes: [{path: /x, require_token: false}]\n", []string{"no route requires a token"}},
		{"guarded route without a binding", edit("  - method: GET\n    path: /payments\n    require_token: false", "  - method: DELETE\n    path: /payments/{id}"),
			[]string{"routes[2] requires a token but has no binding", "unbound: true"}},
		{"binding and unbound", edit("      payee_account: /creditor/account\n", "      payee_account: /creditor/account\n    unbound: true\n"), []string{"routes[0] has a binding and unbound: true"}},
		{"unbound on an open route", edit("    require_token: false", "    require_token: false\n    unbound: true"), []string{"apply only to a route that requires a token"}},
		{"unknown require_acr", edit("      payee_account: /creditor/account\n", "      payee_account: /creditor/account\n    require_acr: gold\n"), []string{"routes[0].require_acr"}},
		{"bad duration", edit("listen:", "leeway: soon\nlisten:"), []string{"not a duration"}},
		{"leeway too large", edit("listen:", "leeway: 2m\nlisten:"), []string{"leeway must be between"}},
		{"unmatched unknown", edit("listen:", "unmatched: allow\nlisten:"), []string{"unmatched must be deny or proxy"}},
		{"redis_waitaof malformed", edit(`  redis_url: "redis://127.0.0.1:6379/0"`, "  redis_url: \"redis://127.0.0.1:6379/0\"\n  redis_waitaof: \"yes\""),
			[]string{"consume.redis_waitaof: must be"}},
		{"redis_waitaof waiting for nothing", edit(`  redis_url: "redis://127.0.0.1:6379/0"`, "  redis_url: \"redis://127.0.0.1:6379/0\"\n  redis_waitaof: \"0,0\""),
			[]string{"consume.redis_waitaof", "waits for nothing"}},
		{"unknown mode", edit("listen:", "mode: forward\nlisten:"), []string{"mode must be proxy or authz"}},
		{"authz settings in mode proxy", edit("listen:", "authz: {original: request}\nlisten:"), []string{"authz applies to mode: authz only"}},
		{"authz with an upstream, no admin listener", edit("listen:", "mode: authz\nlisten:"),
			[]string{"upstream: mode authz forwards nothing", "admin_listen is required with mode: authz"}},
		{"authz unknown original", strings.Replace(authzConfig, "original: request", "original: body", 1), []string{"authz.original must be forwarded or request"}},
		{"authz header names with original: request", strings.Replace(authzConfig, "original: request", "original: request\n  uri_header: X-Uri", 1),
			[]string{"apply to original: forwarded only"}},
		{"authz path_prefix ending in /", strings.Replace(authzConfig, "path_prefix: /check", "path_prefix: /check/", 1), []string{"authz.path_prefix must start with /"}},
		{"authz path_prefix with original: forwarded", strings.Replace(authzConfig, "original: request", "original: forwarded", 1),
			[]string{"authz.path_prefix applies to original: request only"}},
		{"authz unmatched proxy", strings.Replace(authzConfig, "unmatched: allow", "unmatched: proxy", 1), []string{"unmatched must be deny or allow with mode: authz"}},
		{"redis_waitaof through Signet", strings.Replace(signetConfig, "  timeout: 2s", "  timeout: 2s\n  redis_waitaof: \"1,0\"", 1),
			[]string{"consume.redis_waitaof applies to redis_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(validConfig))
	if err != nil {
		t.Fatal(err)
	}
	// Parse keeps only a non-empty problem list, so Validate is asked directly too: a valid configuration is nil,
	// not an empty *ConfigError (which, as an error interface, is not nil).
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of a valid configuration: %#v", err)
	}
	if c.Unmatched != "deny" || c.MaxBodyBytes != 1<<20 || c.Consume.RedisPrefix != "signet:jti:" || len(c.Routes) != 3 ||
		!c.Routes[0].Guarded() || c.Routes[2].Guarded() || c.Routes[1].Pattern() != "PUT /payments/{id}" {
		t.Fatalf("%+v", c)
	}
	s, err := Parse([]byte(signetConfig))
	if err != nil {
		t.Fatal(err)
	}
	if s.Consume.SignetURL == "" || s.Routes[0].Pattern() != "/metrics" {
		t.Fatalf("%+v", s)
	}
	a, err := Parse([]byte(authzConfig)) // /metrics is free: the admin endpoints are on admin_listen
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode != ModeAuthz || a.Authz.Original != "request" || a.Authz.MethodHeader != "" || c.Mode != ModeProxy {
		t.Fatalf("%+v", a)
	}
	f, err := Parse([]byte(strings.Replace(strings.Replace(authzConfig, "  original: request\n", "", 1), "  path_prefix: /check\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Authz.Original != "forwarded" || f.Authz.MethodHeader != "X-Forwarded-Method" || f.Authz.URIHeader != "X-Forwarded-Uri" {
		t.Fatalf("authz defaults: %+v", f.Authz)
	}
	if strings.Contains(s.Consume.String(), "secret") {
		t.Fatal("consume config prints secrets")
	}
}

func TestPointerAndStrictJSON(t *testing.T) {
	tests := []struct {
		name, body, ptr, want, err string
	}{
		{name: "duplicate key", body: `{"amount":"1","amount":"1000"}`, ptr: "/amount", err: "more than once"},
		{name: "key in another case", body: `{"amount":"1","Amount":"1000"}`, ptr: "/amount", err: "more than once"},
		{name: "nested duplicate", body: `{"a":{"b":1,"b":2}}`, ptr: "/a/b", err: "more than once"},
		{name: "trailing data", body: `{"amount":"1"} {}`, ptr: "/amount", err: "data after"},
		{name: "not JSON", body: `amount=1`, ptr: "/amount", err: "not acceptable JSON"},
		{name: "missing", body: `{"x":1}`, ptr: "/amount", err: "missing"},
		{name: "object value", body: `{"amount":{"v":1}}`, ptr: "/amount", err: "not a string or a number"},
		{name: "array index out of range", body: `{"a":[1]}`, ptr: "/a/1", err: "missing"},
		{name: "array index with leading zero", body: `{"a":[1,2]}`, ptr: "/a/01", err: "missing"},
		{name: "string", body: `{"amount":"100.50"}`, ptr: "/amount", want: "100.50"},
		{name: "number keeps its literal", body: `{"amount":100.50}`, ptr: "/amount", want: "100.50"},
		{name: "escaped pointer", body: `{"a/b~c":"x"}`, ptr: "/a~1b~0c", want: "x"},
		{name: "array element", body: `{"items":[{"acct":"DE1"}]}`, ptr: "/items/0/acct", want: "DE1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := parsePointer(tt.ptr)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := decodeStrict([]byte(tt.body))
			var got string
			if err == nil {
				got, err = lookup(doc, toks, tt.ptr)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzParseConfig: no configuration file makes Parse panic, and whatever it accepts builds a
// router.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte(signetConfig))
	for _, s := range []string{validConfig, signetConfig} {
		for _, i := range []int{len(s) / 4, len(s) / 2, 3 * len(s) / 4} {
			b := []byte(s)
			b[i] ^= 0x01 // single-bit corruptions of valid inputs
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := c.mux(func(int) http.Handler { return http.NotFoundHandler() }, nil); err != nil {
			t.Fatalf("accepted config does not build: %v", err)
		}
		for _, r := range c.Routes {
			if r.Binding != nil {
				_ = newExtractor(*r.Binding, c.MaxBodyBytes)
			}
		}
	})
}

// TestProxyRecyclesCopyBuffers: the reverse proxy copies responses through
// pooled buffers instead of allocating 32 KiB for every request (the race
// detector drops pooled items at random, so this checks the wiring rather
// than counting allocations).
func TestProxyRecyclesCopyBuffers(t *testing.T) {
	yes := true
	g, err := New(&Config{Upstream: "http://upstream.invalid", JWKSURL: "https://signet.example/jwks", Issuer: "https://signet.example",
		Audience: "payments", Consume: ConsumeConfig{RedisURL: "redis://127.0.0.1:1/0"},
		Routes: []Route{{Method: "POST", Path: "/payments", RequireToken: &yes}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.proxy.BufferPool == nil {
		t.Fatal("the reverse proxy has no buffer pool: it allocates a copy buffer per response")
	}
	b := g.proxy.BufferPool.Get()
	if len(b) != 32<<10 {
		t.Fatalf("pooled buffer of %d bytes, want 32 KiB", len(b))
	}
	g.proxy.BufferPool.Put(b)
}

// TestShippedConfigsParse: the example configurations in deploy/ and docs/gateway.md are valid
// (every guarded route has a binding or says unbound: true).
func TestShippedConfigsParse(t *testing.T) {
	docs, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(docs, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/gateway.md has no yaml example")
	}
	files := map[string][]byte{}
	for i, b := range blocks {
		if bytes.Contains(b[1], []byte("upstream:")) || bytes.Contains(b[1], []byte("mode: authz")) { // a whole configuration, not a fragment
			files[fmt.Sprintf("docs/gateway.md block %d", i)] = b[1]
		}
	}
	deploy, _ := filepath.Glob("../deploy/*gateway*.y*ml")
	for _, p := range deploy {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	if len(deploy) == 0 || len(files) < 3 {
		t.Fatalf("found %d configurations", len(files))
	}
	for name, b := range files {
		if _, err := Parse(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEveryProblemAtOnce: an unknown key, a value of the wrong type, a wrong value and a missing field are
// reported together, each on its own line with the line of the file it is on (the deepest key its path names),
// in file order, the messages aligned.
func TestEveryProblemAtOnce(t *testing.T) {
	yaml := `upstream: "https://payments.internal"
jwks_url: "https://signet.example/.well-known/jwks.json"
audience: "signet-gateway"
unmatched: allow
max_body_bytes: lots
consume:
  redis_url: "redis://127.0.0.1:6379/0"
routes:
  - method: POST
    path: /payments
    bindng:
      amount: /amount
  - method: PUT
    path: /payments/{id}
    binding: {amount: /a, currency: /c, payee_account: /p}
    require_acr: gold
  - method: DELETE
    path: /payments/{id}
    binding:
      amount: amount
      currency: /c
      payee_account: /p
`
	_, err := Parse([]byte(yaml))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *ConfigError", err)
	}
	want := []Problem{
		{4, "unmatched must be deny or proxy"},
		{5, "cannot unmarshal !!str `lots` into int64"},
		{9, "routes[0] requires a token but has no binding"},
		{11, `unknown key "bindng"`},
		{16, "routes[1].require_acr"},
		{20, "routes[2].binding.amount"}, // the line of amount, not of binding above it
		{0, "issuer is required"},
	}
	if len(ce.Problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
	for i, w := range want {
		if p := ce.Problems[i]; p.Line != w.Line || !strings.HasPrefix(p.Msg, w.Msg) {
			t.Errorf("problem %d = line %d %q, want line %d %q…", i, p.Line, p.Msg, w.Line, w.Msg)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "gateway config: 7 problems:" {
		t.Errorf("first line %q", lines[0])
	}
	col := strings.Index(lines[1], "unmatched")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("not aligned at column %d: %q", col, l)
		}
	}
	if !strings.HasPrefix(lines[4], "  line 11   unknown key") {
		t.Errorf("line 4 %q", lines[4])
	}
}

// TestLoad: Load parses the file at its path; a file that cannot be read is an error that says so
// and keeps its cause.
func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(validConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || len(c.Routes) != 3 || c.Routes[1].Pattern() != "PUT /payments/{id}" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	_, err = Load(path + ".missing")
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "gateway config: open "+path+".missing") {
		t.Fatalf("Load of a missing file = %v", err)
	}
}

// TestRouteLimit: a configuration of exactly maxRoutes routes is valid; one more is refused with its problem.
func TestRouteLimit(t *testing.T) {
	for _, tt := range []struct {
		routes int
		ok     bool
	}{{maxRoutes, true}, {maxRoutes + 1, false}} {
		var b strings.Builder
		b.WriteString(strings.SplitAfter(validConfig, "routes:\n")[0])
		for i := range tt.routes {
			fmt.Fprintf(&b, "  - {method: POST, path: /p%d, unbound: true}\n", i)
		}
		_, err := Parse([]byte(b.String()))
		if tt.ok && err != nil || !tt.ok && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("routes: at most %d", maxRoutes))) {
			t.Errorf("%d routes: %v", tt.routes, err)
		}
	}
}

// TestParsePointerTilde: RFC 6901 §3, "~" is followed by 0 or 1; a "~" that ends a token is refused, not
// read past.
func TestParsePointerTilde(t *testing.T) {
	for ptr, ok := range map[string]bool{"/a~0": true, "/a~1b": true, "/~": false, "/a~": false, "/a~/b": false, "/a~2": false} {
		if _, err := parsePointer(ptr); (err == nil) != ok || err != nil && !strings.Contains(err.Error(), "~ must be followed by 0 or 1") {
			t.Errorf("parsePointer(%q) = %v, want ok=%v", ptr, err, ok)
		}
	}
}

// TestValidateRefusesZeroLimits: Parse fills in a default for each limit left out, but Validate, called on a
// Config built in Go, refuses a zero body limit and zero timeouts as its messages say (between 1 and the
// maximum; positive) instead of running with them.
func TestValidateRefusesZeroLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		zero func(*Config)
		want string
	}{
		{"max_body_bytes", func(c *Config) { c.MaxBodyBytes = 0 }, "max_body_bytes must be between 1 and 16777216"},
		{"upstream_timeout", func(c *Config) { c.UpstreamTimeout = 0 }, "upstream_timeout and shutdown_timeout must be positive"},
		{"shutdown_timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "upstream_timeout and shutdown_timeout must be positive"},
		{"consume.timeout", func(c *Config) { c.Consume.Timeout = 0 }, "consume.timeout must be positive"},
	} {
		c, err := Parse([]byte(validConfig))
		if err != nil {
			t.Fatal(err)
		}
		tc.zero(c)
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Msg != tc.want {
			t.Errorf("Validate with %s 0 = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestConfigBounds: the largest accepted values are accepted and one past them refused: a leeway of
// exactly verify.MaxLeeway and a file of exactly maxConfigSize bytes. ConsumeConfig.String names the mode.
func TestConfigBounds(t *testing.T) {
	if _, err := Parse([]byte(strings.Replace(validConfig, "listen:", "leeway: 60s\nlisten:", 1))); err != nil {
		t.Errorf("leeway of exactly 60s (verify.MaxLeeway): %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(validConfig, "listen:", "leeway: 61s\nlisten:", 1))); err == nil {
		t.Error("leeway of 61s accepted")
	}
	pad := func(n int) []byte { return []byte(validConfig + "#" + strings.Repeat("x", n-len(validConfig)-1)) }
	if _, err := Parse(pad(maxConfigSize)); err != nil {
		t.Errorf("a file of exactly %d bytes: %v", maxConfigSize, err)
	}
	if _, err := Parse(pad(maxConfigSize + 1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file of %d bytes: %v", maxConfigSize+1, err)
	}
	for _, n := range []string{"1", "16777216"} {
		if _, err := Parse([]byte(strings.Replace(validConfig, "listen:", "max_body_bytes: "+n+"\nlisten:", 1))); err != nil {
			t.Errorf("max_body_bytes of %s (a bound): %v", n, err)
		}
	}
	if _, err := Parse([]byte(strings.Replace(validConfig, "listen:", "max_body_bytes: 16777217\nlisten:", 1))); err == nil {
		t.Error("max_body_bytes of 16 MiB + 1 accepted")
	}
	// No routes at all is one problem, said once: not also "no route requires a token".
	noRoutes := validConfig[:strings.Index(validConfig, "routes:")] + "routes: []\n"
	var ce *ConfigError
	if _, err := Parse([]byte(noRoutes)); !errors.As(err, &ce) || len(ce.Problems) != 1 ||
		ce.Problems[0].Msg != "routes: at least one route is required" {
		t.Errorf("a config without routes: %v", err)
	}
	// A problem without a line (a check on the whole file) gets no "line 0".
	if got := (&ConfigError{Problems: []Problem{{Msg: "issuer is required"}, {Line: 3, Msg: "unknown key"}}}).Error(); got !=
		"gateway config: 2 problems:\n            issuer is required\n  line 3    unknown key" {
		t.Errorf("ConfigError prints %q", got)
	}
	if got := (ConsumeConfig{RedisURL: "redis://r"}).String(); got != "consume(redis)" {
		t.Errorf("redis consume prints %q", got)
	}
	if got := (ConsumeConfig{SignetURL: "https://s.example", APIKey: "k"}).String(); got != "consume(signet https://s.example)" {
		t.Errorf("signet consume prints %q", got)
	}
}
