package gateway

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/config"

	"github.com/signet-sca/signet/txsign/verify"
)

// Config is the gateway's YAML configuration file.
//
//	listen: ":8000"
//	upstream: "http://payments:9000"
//	jwks_url: "https://signet.bank.example/.well-known/jwks.json"
//	issuer: "https://signet.bank.example"
//	audience: "signet-gateway"
//	consume:
//	  redis_url: "redis://redis:6379/0"      # or: signet_url + api_key_file
//	routes:
//	  - method: POST
//	    path: /payments
//	    binding: {amount: /amount, currency: /currency, payee_account: /creditor_account}
//	    # require_acr: sca                   # the default on a route with a binding
//	  - method: POST
//	    path: /sessions
//	    unbound: true                        # guarded, but the request carries no payment
//	  - method: GET
//	    path: /payments
//	    require_token: false
//
// Every guarded route either has a binding or says unbound: true; a guarded route without
// either is refused at start, so that a forgotten binding cannot let one approval pay any
// amount to anyone.
type Config struct {
	// Mode is "proxy" [default]: forward each accepted request to Upstream, or "authz": answer
	// forward-auth checks (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy
	// ext_authz) with allow (200 and the identity headers) or deny, forwarding nothing.
	Mode string `yaml:"mode"`
	// Authz says how a forward-auth check names the request it checks (mode authz only).
	Authz AuthzConfig `yaml:"authz"`
	// Listen is the proxy's (or the check endpoint's) address [":8000"].
	Listen string `yaml:"listen"`
	// AdminListen, when set, serves /healthz, /readyz and /metrics there instead of on Listen.
	AdminListen string `yaml:"admin_listen"`
	// Upstream is the base URL of the protected API (mode proxy only).
	Upstream string `yaml:"upstream"`
	// JWKSURL is Signet's /.well-known/jwks.json: https, or http on loopback or with
	// JWKSAllowHTTP (inside an authenticated network only).
	JWKSURL       string `yaml:"jwks_url"`
	JWKSAllowHTTP bool   `yaml:"jwks_allow_http"`
	// Issuer and Audience are the "iss" and "aud" tokens must carry.
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// Leeway is the clock skew allowed on exp/nbf/iat [5s, at most 60s].
	Leeway Duration `yaml:"leeway"`
	// Consume says where token ids are burned.
	Consume ConsumeConfig `yaml:"consume"`
	// Routes are matched with net/http.ServeMux patterns ("POST /payments/{id}").
	Routes []Route `yaml:"routes"`
	// Unmatched is what happens to a request no route matches: "deny" (404) [default] or
	// "proxy" (forwarded without a token check); in mode authz "deny" or "allow" (200, no identity).
	Unmatched string `yaml:"unmatched"`
	// MaxBodyBytes bounds request bodies the gateway reads for binding [1 MiB].
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// UpstreamTimeout bounds waiting for the upstream's response headers [30s].
	UpstreamTimeout Duration `yaml:"upstream_timeout"`
	// ShutdownTimeout bounds the graceful shutdown [20s].
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// ConsumeConfig selects how a token's JTI is consumed: in Redis directly (GETDEL, one round
// trip), or through Signet's POST /v1/tokens/consume for gateways without Redis access.
type ConsumeConfig struct {
	RedisURL    string   `yaml:"redis_url"`
	RedisPrefix string   `yaml:"redis_prefix"` // ["signet:jti:", as Signet records]
	SignetURL   string   `yaml:"signet_url"`   // Signet's base URL
	APIKey      string   `yaml:"api_key"`      // Signet API key ("name:secret[:scope]" or the secret); scope consume suffices
	APIKeyFile  string   `yaml:"api_key_file"` // file holding it (preferred over api_key)
	Timeout     Duration `yaml:"timeout"`      // per consume call [3s]
	// RedisWaitAOF makes every consume wait until Redis confirms the GETDEL is in the AOF of the primary
	// and of that many replicas ("local,replicas[,timeout]", Redis 7.2+), as SIGNET_REDIS_CONSUME_WAITAOF
	// does for Signet: a spent token stays spent through a crash or a failover. Unconfirmed: 503.
	RedisWaitAOF string `yaml:"redis_waitaof"`
}

// Modes.
const (
	ModeProxy = "proxy"
	ModeAuthz = "authz"
)

// AuthzConfig says where a forward-auth check request carries the original request's method and
// URI. Original "forwarded" [default]: in the MethodHeader and URIHeader headers (X-Forwarded-Method
// and X-Forwarded-Uri, as Traefik and Caddy send them and the nginx configuration of docs/gateway.md
// sets them). Original "request": the check request's own method and path, less PathPrefix (Envoy's
// ext_authz HTTP service sends the original method and path_prefix + the original path).
type AuthzConfig struct {
	Original     string `yaml:"original"`
	MethodHeader string `yaml:"method_header"`
	URIHeader    string `yaml:"uri_header"`
	PathPrefix   string `yaml:"path_prefix"`
}

// Route is a method and path pattern, whether it needs a token, and its request binding.
type Route struct {
	Method string `yaml:"method"` // "" or "*": any method
	Path   string `yaml:"path"`
	// RequireToken defaults to true.
	RequireToken *bool `yaml:"require_token"`
	// Binding names where the request carries the amount, currency and payee account.
	Binding *Binding `yaml:"binding"`
	// Unbound marks a guarded route whose request carries no payment to bind (a login, a
	// settings change): the token proves that the user approved an operation, not what. A
	// guarded route needs a binding or unbound: true.
	Unbound bool `yaml:"unbound"`
	// RequireACR is the authentication the token must prove, from its amr (RFC 8176): "sca"
	// (two independent factors, PSD2 RTS Art. 4) or "1fa" (one factor, e.g. a device-key
	// approval alone). Default: sca on a route with a binding, 1fa on an unbound route.
	RequireACR string `yaml:"require_acr"`
}

// Binding sources: "/json/pointer" (RFC 6901) into a JSON body, "header:Name" or "query:name".
type Binding struct {
	Amount       string `yaml:"amount"`
	Currency     string `yaml:"currency"`
	PayeeAccount string `yaml:"payee_account"`
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Pattern is the route's ServeMux pattern.
func (r Route) Pattern() string {
	m := strings.TrimSpace(r.Method)
	if m == "" || m == "*" {
		return r.Path
	}
	return strings.ToUpper(m) + " " + r.Path
}

// Guarded reports whether the route needs a token.
func (r Route) Guarded() bool { return r.RequireToken == nil || *r.RequireToken }

// ACR is the authentication class the route's tokens must prove (verify.ACRSCA or
// verify.ACR1FA): RequireACR, else SCA on a route with a binding, else one factor.
func (r Route) ACR() string {
	if r.RequireACR != "" {
		if acr, err := verify.ParseACR(r.RequireACR); err == nil {
			return acr
		}
		return verify.ACRSCA // unreachable after Validate; fail towards the stricter class
	}
	if r.Binding != nil {
		return verify.ACRSCA
	}
	return verify.ACR1FA
}

// String keeps the API key out of formatted output.
func (c ConsumeConfig) String() string {
	mode := "redis"
	if c.SignetURL != "" {
		mode = "signet " + c.SignetURL
	}
	return "consume(" + mode + ")"
}

// LogValue keeps secrets (API key, Redis password) out of logs.
func (c ConsumeConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Limits.
const (
	defaultMaxBody = 1 << 20
	maxMaxBody     = 16 << 20
	maxConfigSize  = 1 << 20
	maxRoutes      = 1000
)

// reservedPaths are served by the gateway itself when there is no admin listener.
var reservedPaths = []string{"/healthz", "/readyz", "/metrics"}

// Parse reads and validates a configuration, reporting every problem at once. Unknown keys are
// errors (a misspelt "binding" must not silently disable a check).
func Parse(data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("gateway config: larger than %d bytes", maxConfigSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	var problems []Problem
	if err := dec.Decode(&c); err != nil {
		// Unknown keys and wrong types are collected (yaml.v3 goes on decoding the rest), so that they are
		// reported together with every problem Validate finds; a syntax error stops here.
		var te *yaml.TypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("gateway config: empty")
		case errors.As(err, &te):
			problems = typeProblems(te)
		default:
			return nil, fmt.Errorf("gateway config: %w", err)
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("gateway config: more than one YAML document")
	}
	c.defaults()
	var ce *ConfigError
	if err := c.Validate(); errors.As(err, &ce) {
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root) // it parsed above
		for _, p := range ce.Problems {
			problems = append(problems, Problem{Line: lineOf(&root, p.Msg), Msg: p.Msg})
		}
	} else if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return cmp.Compare(lineKey(a.Line), lineKey(b.Line)) })
		return nil, &ConfigError{Problems: problems}
	}
	return &c, nil
}

// lineKey orders problems by line, those without one last.
func lineKey(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// Load reads the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	return Parse(b)
}

func (c *Config) defaults() {
	if c.Mode == "" {
		c.Mode = ModeProxy
	}
	if c.Mode == ModeAuthz {
		if c.Authz.Original == "" {
			c.Authz.Original = "forwarded"
		}
		if c.Authz.Original == "forwarded" {
			if c.Authz.MethodHeader == "" {
				c.Authz.MethodHeader = "X-Forwarded-Method"
			}
			if c.Authz.URIHeader == "" {
				c.Authz.URIHeader = "X-Forwarded-Uri"
			}
		}
	}
	if c.Listen == "" {
		c.Listen = ":8000"
	}
	if c.Unmatched == "" {
		c.Unmatched = "deny"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBody
	}
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = Duration(30 * time.Second)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(20 * time.Second)
	}
	if c.Consume.Timeout == 0 {
		c.Consume.Timeout = Duration(3 * time.Second)
	}
	if c.Consume.RedisPrefix == "" {
		c.Consume.RedisPrefix = "signet:jti:"
	}
}

var (
	methodToken = regexp.MustCompile(`^[A-Z]{1,20}$`)
	headerName  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
	queryName   = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,128}$`)
)

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p problems
	if c.Listen == "" {
		p.add("listen must not be empty")
	}
	c.validateMode(&p)
	p.url("jwks_url", c.JWKSURL, c.JWKSAllowHTTP)
	if c.Issuer == "" {
		p.add("issuer is required (the exact iss of Signet's tokens)")
	}
	if c.Audience == "" {
		p.add("audience is required (the aud of Signet's tokens, SIGNET_TOKEN_AUDIENCE)")
	}
	if c.Leeway < 0 || time.Duration(c.Leeway) > verify.MaxLeeway {
		p.add("leeway must be between 0 and %s", verify.MaxLeeway)
	}
	c.Consume.validate(&p)
	c.validateLimits(&p)
	c.validateRoutes(&p)
	if len(p) == 0 {
		// The literal stays off the if line: Go's coverage would not count a condition after it.
		anyHandler := func(int) http.Handler { return http.NotFoundHandler() }
		if _, err := c.mux(anyHandler, nil); err != nil {
			p = append(p, err)
		}
	}
	if len(p) > 0 {
		ce := &ConfigError{}
		for _, e := range p {
			ce.Problems = append(ce.Problems, Problem{Msg: e.Error()})
		}
		return ce
	}
	return nil
}

// problems collects what Validate finds, in the order it checks.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// url checks that v is an absolute http(s) URL without credentials, https unless allowHTTP or on loopback.
func (p *problems) url(name, v string, allowHTTP bool) {
	u, err := url.Parse(v)
	switch {
	case v == "":
		p.add("%s is required", name)
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil:
		p.add("%s must be an absolute http(s) URL without credentials", name)
	case u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()):
		p.add("%s must be https (http only on loopback, or with jwks_allow_http inside an authenticated network)", name)
	}
}

// validateMode checks the mode and what belongs to it: the upstream of a proxy, the authz settings.
func (c *Config) validateMode(p *problems) {
	switch c.Mode {
	case ModeProxy:
		p.url("upstream", c.Upstream, true)
		if c.Authz != (AuthzConfig{}) {
			p.add("authz applies to mode: authz only")
		}
	case ModeAuthz:
		if c.Upstream != "" {
			p.add("upstream: mode authz forwards nothing (the proxy in front does); remove it")
		}
		if c.AdminListen == "" {
			p.add("admin_listen is required with mode: authz (the check listener answers checks only)")
		}
		c.Authz.validate(p)
	default:
		p.add("mode must be proxy or authz")
	}
}

func (a AuthzConfig) validate(p *problems) {
	switch a.Original {
	case "forwarded":
		if !headerName.MatchString(a.MethodHeader) || !headerName.MatchString(a.URIHeader) {
			p.add("authz.method_header and authz.uri_header must be header names")
		}
		if a.PathPrefix != "" {
			p.add("authz.path_prefix applies to original: request only")
		}
	case "request":
		if a.MethodHeader != "" || a.URIHeader != "" {
			p.add("authz.method_header and authz.uri_header apply to original: forwarded only")
		}
		if a.PathPrefix != "" && (!strings.HasPrefix(a.PathPrefix, "/") || strings.HasSuffix(a.PathPrefix, "/") ||
			strings.ContainsAny(a.PathPrefix, " \t\r\n?#")) {
			p.add("authz.path_prefix must start with / and not end with / (Envoy's path_prefix)")
		}
	default:
		p.add("authz.original must be forwarded or request")
	}
}

// validate checks that tokens are consumed exactly one way: Redis or Signet's consume endpoint.
func (cc ConsumeConfig) validate(p *problems) {
	switch {
	case cc.RedisURL != "" && cc.SignetURL != "":
		p.add("consume: set redis_url or signet_url, not both")
	case cc.RedisURL == "" && cc.SignetURL == "":
		p.add("consume: redis_url or signet_url is required (tokens must be consumed once)")
	case cc.RedisURL != "":
		if !strings.HasPrefix(cc.RedisURL, "redis://") && !strings.HasPrefix(cc.RedisURL, "rediss://") {
			p.add("consume.redis_url must be a redis:// or rediss:// URL")
		}
	default:
		p.url("consume.signet_url", cc.SignetURL, true)
		if (cc.APIKey == "") == (cc.APIKeyFile == "") {
			p.add("consume: exactly one of api_key and api_key_file is required with signet_url")
		}
	}
	if w := cc.RedisWaitAOF; w != "" {
		if cc.RedisURL == "" {
			p.add("consume.redis_waitaof applies to redis_url; through signet_url, set SIGNET_REDIS_CONSUME_WAITAOF on Signet")
		} else if _, err := config.ParseWaitAOF(w); err != nil {
			p.add("consume.redis_waitaof: %v", err)
		}
	}
	if cc.Timeout <= 0 {
		p.add("consume.timeout must be positive")
	}
}

// validateLimits checks what happens to unmatched requests, the body limit and the timeouts.
func (c *Config) validateLimits(p *problems) {
	switch {
	case c.Mode == ModeAuthz && c.Unmatched != "deny" && c.Unmatched != "allow":
		p.add("unmatched must be deny or allow with mode: authz")
	case c.Mode != ModeAuthz && c.Unmatched != "deny" && c.Unmatched != "proxy":
		p.add("unmatched must be deny or proxy")
	}
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > maxMaxBody {
		p.add("max_body_bytes must be between 1 and %d", maxMaxBody)
	}
	if c.UpstreamTimeout <= 0 || c.ShutdownTimeout <= 0 {
		p.add("upstream_timeout and shutdown_timeout must be positive")
	}
}

// validateRoutes checks each route and that at least one requires a token.
func (c *Config) validateRoutes(p *problems) {
	switch {
	case len(c.Routes) == 0:
		p.add("routes: at least one route is required")
	case len(c.Routes) > maxRoutes:
		p.add("routes: at most %d", maxRoutes)
	}
	guarded := 0
	for i, r := range c.Routes {
		c.validateRoute(p, fmt.Sprintf("routes[%d]", i), r)
		if r.Guarded() {
			guarded++
		}
	}
	if len(c.Routes) > 0 && guarded == 0 {
		p.add("routes: no route requires a token")
	}
}

func (c *Config) validateRoute(p *problems, at string, r Route) {
	if m := strings.TrimSpace(r.Method); m != "" && m != "*" && !methodToken.MatchString(strings.ToUpper(m)) {
		p.add("%s.method %q is not an HTTP method", at, r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " \t\r\n") {
		p.add("%s.path must start with / and contain no spaces", at)
	}
	if c.AdminListen == "" && c.Mode != ModeAuthz {
		for _, rp := range reservedPaths {
			if r.Path == rp {
				p.add("%s.path %s is served by the gateway itself (set admin_listen to move it)", at, rp)
			}
		}
	}
	switch {
	case !r.Guarded():
		if r.Binding != nil {
			p.add("%s has a binding but require_token: false", at)
		}
		if r.Unbound || r.RequireACR != "" {
			p.add("%s: unbound and require_acr apply only to a route that requires a token", at)
		}
	case r.Binding == nil && !r.Unbound:
		p.add("%s requires a token but has no binding: add one (amount, currency, payee_account), or say unbound: true "+
			"if its requests carry no payment (the token then proves that an operation was approved, not what)", at)
	case r.Binding != nil && r.Unbound:
		p.add("%s has a binding and unbound: true; choose one", at)
	}
	if r.RequireACR != "" {
		if _, err := verify.ParseACR(r.RequireACR); err != nil {
			p.add("%s.require_acr: %v", at, err)
		}
	}
	if b := r.Binding; b != nil {
		for name, src := range map[string]string{"amount": b.Amount, "currency": b.Currency, "payee_account": b.PayeeAccount} {
			if err := checkSource(src); err != nil {
				p.add("%s.binding.%s: %v", at, name, err)
			}
		}
	}
}

// ConfigError lists every problem of a configuration at once, each with its line in the file where known.
type ConfigError struct{ Problems []Problem }

// Problem is one thing wrong with a configuration.
type Problem struct {
	Line int // 1-based line in the YAML file; 0: not tied to a line
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "gateway config: %d problem%s:", n, map[bool]string{true: "", false: "s"}[n == 1])
	for _, p := range e.Problems {
		where := ""
		if p.Line > 0 {
			where = fmt.Sprintf("line %d", p.Line)
		}
		fmt.Fprintf(&b, "\n  %-9s %s", where, p.Msg)
	}
	return b.String()
}

// unknownField matches yaml.v3's report of a key that no field takes (KnownFields).
var unknownField = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)

// typeProblems turns yaml.v3's collected decoding errors (unknown keys, wrong types) into problems with lines.
func typeProblems(te *yaml.TypeError) []Problem {
	var out []Problem
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, Problem{Line: line, Msg: fmt.Sprintf("unknown key %q", m[2])})
			continue
		}
		var line int
		if _, err := fmt.Sscanf(e, "line %d:", &line); err == nil {
			_, msg, _ := strings.Cut(e, ": ")
			out = append(out, Problem{Line: line, Msg: msg})
			continue
		}
		out = append(out, Problem{Msg: e})
	}
	return out
}

// problemPath is the configuration path a Validate message starts with: "routes[0].binding.amount", "leeway".
var problemPath = regexp.MustCompile(`^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*)`)

// lineOf finds the line of a Validate problem in the document: the deepest node its leading path names.
func lineOf(root *yaml.Node, msg string) int {
	m := problemPath.FindString(msg)
	if m == "" || root == nil || len(root.Content) == 0 {
		return 0
	}
	n, line := root.Content[0], 0
	for _, part := range strings.Split(m, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i > 0 {
			key = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		next := (*yaml.Node)(nil)
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				break
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// checkSource validates a binding source.
func checkSource(s string) error {
	switch {
	case s == "":
		return errors.New("is required (amount, currency and payee_account are all checked)")
	case strings.HasPrefix(s, "/"):
		if _, err := parsePointer(s); err != nil {
			return err
		}
	case strings.HasPrefix(s, "header:"):
		if !headerName.MatchString(strings.TrimPrefix(s, "header:")) {
			return fmt.Errorf("%q is not a valid header name", strings.TrimPrefix(s, "header:"))
		}
	case strings.HasPrefix(s, "query:"):
		if !queryName.MatchString(strings.TrimPrefix(s, "query:")) {
			return fmt.Errorf("%q is not a valid query parameter name", strings.TrimPrefix(s, "query:"))
		}
	default:
		return fmt.Errorf("%q must be a JSON pointer (/amount), header:Name or query:name", s)
	}
	return nil
}

// mux builds the router: one handler per route, the gateway's own endpoints (when admin is
// not nil) and the unmatched handler. ServeMux panics on an invalid or conflicting pattern; that
// is reported as a configuration error.
func (c *Config) mux(route func(i int) http.Handler, admin map[string]http.Handler) (m *http.ServeMux, err error) {
	m = http.NewServeMux()
	current := ""
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("gateway config: %s: %v", current, p)
		}
	}()
	for i, r := range c.Routes {
		current = fmt.Sprintf("routes[%d] %q", i, r.Pattern())
		m.Handle(r.Pattern(), route(i))
	}
	for p, h := range admin {
		current = "the gateway's own " + p
		m.Handle("GET "+p, h)
	}
	current = `the catch-all "/" for unmatched requests (a route may not be "/" for every method)`
	m.Handle("/", route(-1))
	return m, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
