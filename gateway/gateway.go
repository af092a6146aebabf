package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/verify"
)

// Headers the gateway sets upstream from the verified token. Every client-sent header whose
// name, with '_' read as '-', starts with "signet-" in any case is removed first, on every route,
// so the upstream can trust them: CGI, WSGI and Rack upstreams read both Signet-Subject and
// Signet_Subject as HTTP_SIGNET_SUBJECT (RFC 3875 §4.1.18).
//
// HeaderIdempotencyKey carries the operation id on a guarded route (the client's own is
// replaced), so that a payment API can refuse to execute one approval twice even if a replay
// store failover revived a spent token (draft-ietf-httpapi-idempotency-key-header).
const (
	HeaderOperation      = "Signet-Operation"
	HeaderSubject        = "Signet-Subject"
	HeaderIdempotencyKey = "Idempotency-Key"
	signetPrefix         = "signet-"
)

// headerIs reports whether a header name is want (lower case, '-' separated) or starts with it
// (prefix), ignoring case and reading every character that is not a letter or digit as '-':
// CGI (RFC 3875 §4.1.18) and PHP map '-', '_' and '.' alike onto one variable name, so
// "Signet_Subject" and "Signet.Subject" reach such an upstream as Signet-Subject does.
func headerIs(name, want string, prefix bool) bool {
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		default:
			return '-'
		}
	}, name)
	if prefix {
		return strings.HasPrefix(n, want)
	}
	return n == want
}

// Gateway is the reverse proxy.
type Gateway struct {
	cfg      *Config
	logger   *slog.Logger
	verifier *verify.Verifier
	jwks     *verify.JWKS
	consume  func(ctx context.Context, token string, claims *verify.Claims) error
	ping     func(ctx context.Context) error
	proxy    *httputil.ReverseProxy
	handler  http.Handler
	admin    http.Handler
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	stages   *prometheus.HistogramVec
	closers  []func() error
}

// Option configures New.
type Option func(*options)

type options struct {
	logger    *slog.Logger
	transport http.RoundTripper
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithUpstreamTransport sets the transport to the upstream.
func WithUpstreamTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

type claimsKey struct{}

var methodOverrides = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// New builds a gateway from a validated configuration. Nothing is fetched yet: the JWKS is
// loaded on the first request (or by Warm).
func New(cfg *Config, opts ...Option) (*Gateway, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	g := &Gateway{cfg: cfg, logger: o.logger, registry: prometheus.NewRegistry()}
	jopts := []verify.JWKSOption{}
	if cfg.JWKSAllowHTTP {
		jopts = append(jopts, verify.AllowHTTP())
	}
	jwks, err := verify.NewJWKS(cfg.JWKSURL, jopts...)
	if err != nil {
		return nil, err
	}
	g.jwks = jwks
	vcfg := verify.Config{Keys: jwks, Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: time.Duration(cfg.Leeway)}
	timeout := time.Duration(cfg.Consume.Timeout)
	switch {
	case cfg.Consume.RedisURL != "":
		u := cfg.Consume.RedisURL
		if !strings.Contains(u, "timeout=") { // fail fast rather than hold the request when Redis is gone
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + "dial_timeout=" + timeout.String() + "&read_timeout=" + timeout.String() + "&write_timeout=" + timeout.String()
		}
		w, _ := config.ParseWaitAOF(cfg.Consume.RedisWaitAOF) // validated with the configuration
		rs, err := redisreplay.Open(u, cfg.Consume.RedisPrefix, redisreplay.WithWaitAOF(redisreplay.WaitAOF(w)))
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, rs.Close)
		if w.Enabled() {
			// Refuse to start rather than answer every payment 503, or trust a server that cannot confirm.
			ctx, cancel := context.WithTimeout(context.Background(), w.Timeout+5*time.Second)
			err := rs.CheckWaitAOF(ctx)
			cancel()
			if err != nil {
				_ = g.Close()
				return nil, fmt.Errorf("gateway: consume.redis_waitaof %s: %w", cfg.Consume.RedisWaitAOF, err)
			}
		}
		vcfg.Replay = rs
		g.ping = rs.Ping
	default:
		key := cfg.Consume.APIKey
		if cfg.Consume.APIKeyFile != "" {
			b, err := os.ReadFile(cfg.Consume.APIKeyFile)
			if err != nil {
				return nil, fmt.Errorf("gateway: consume.api_key_file: %w", err)
			}
			key = strings.TrimSpace(string(b))
		}
		sc := NewSignetConsumer(cfg.Consume.SignetURL, key, &http.Client{Timeout: timeout})
		g.consume = func(ctx context.Context, token string, claims *verify.Claims) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return consumeError(sc.For(token).Consume(ctx, claims.ID))
		}
	}
	if g.verifier, err = verify.New(vcfg); err != nil {
		g.Close()
		return nil, err
	}
	if g.consume == nil {
		g.consume = func(ctx context.Context, _ string, claims *verify.Claims) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return g.verifier.Consume(ctx, claims)
		}
	}
	if cfg.Mode != ModeAuthz {
		g.newProxy(cfg, o)
	}
	g.metrics()
	admin := map[string]http.Handler{
		"/healthz": http.HandlerFunc(g.healthz),
		"/readyz":  http.HandlerFunc(g.readyz),
		"/metrics": promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}),
	}
	main := admin
	if cfg.AdminListen != "" {
		adminMux := http.NewServeMux()
		for p, h := range admin {
			adminMux.Handle("GET "+p, h)
		}
		g.admin, main = adminMux, nil
	}
	extractors := make([]*extractor, len(cfg.Routes))
	for i, r := range cfg.Routes {
		if r.Binding != nil {
			extractors[i] = newExtractor(*r.Binding, cfg.MaxBodyBytes)
		}
	}
	mux, err := cfg.mux(func(i int) http.Handler {
		if i < 0 {
			return g.unmatched()
		}
		return g.route(cfg.Routes[i], extractors[i])
	}, main)
	if err != nil {
		g.Close()
		return nil, err
	}
	if cfg.Mode == ModeAuthz {
		g.handler = g.authzHandler(mux)
		return g, nil
	}
	g.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name := range r.Header { // never let a client speak for the gateway
			if headerIs(name, signetPrefix, true) {
				delete(r.Header, name)
			}
		}
		// Routes are matched on the request's method: an upstream honouring a method-override
		// header could otherwise run a guarded POST that arrived as an open GET.
		for _, h := range methodOverrides {
			r.Header.Del(h)
		}
		mux.ServeHTTP(w, r)
	})
	return g, nil
}

// newProxy builds the reverse proxy to the upstream (mode proxy).
func (g *Gateway) newProxy(cfg *Config, o options) {
	upstream, _ := url.Parse(cfg.Upstream)
	transport := o.transport
	if transport == nil {
		transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           upstreamDialer().DialContext,
			ResponseHeaderTimeout: time.Duration(cfg.UpstreamTimeout),
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
		}
	}
	g.proxy = &httputil.ReverseProxy{
		Transport:  transport,
		BufferPool: bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			if c, ok := pr.In.Context().Value(claimsKey{}).(*verify.Claims); ok && c != nil {
				for name := range pr.Out.Header { // the client's Idempotency-Key, in any spelling, is replaced
					if headerIs(name, "idempotency-key", false) {
						delete(pr.Out.Header, name)
					}
				}
				pr.Out.Header.Set(HeaderOperation, c.Op)
				pr.Out.Header.Set(HeaderSubject, c.Subject)
				pr.Out.Header.Set(HeaderIdempotencyKey, c.Op)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.logger.WarnContext(r.Context(), "upstream failed", "err", err, "path", r.URL.Path)
			verify.WriteProblem(w, verify.Problem{Type: verify.ProblemTypeBase + "bad_gateway", Title: "Upstream unavailable",
				Status: http.StatusBadGateway, Code: "bad_gateway"})
		},
	}
}

// upstreamDialer connects to the upstream: an upstream that does not accept within 5 s fails the
// request (502) instead of holding it for the operating system's connect timeout.
func upstreamDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
}

func (g *Gateway) metrics() {
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_gateway_requests_total",
		Help: "Requests by route and outcome (proxied, or allowed in mode authz; no_token, invalid_token, insufficient_authentication, binding_mismatch, bad_request, replayed, unavailable, upstream_error, not_found)."},
		[]string{"route", "outcome"})
	g.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_gateway_request_duration_seconds",
		Help: "Request duration by route, upstream included.", Buckets: latencyBuckets}, []string{"route"})
	g.stages = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_gateway_stage_duration_seconds",
		Help:    "Duration of each stage of a guarded request: verify (signature, claims, binding), consume (the replay store), upstream (the proxied call).",
		Buckets: latencyBuckets}, []string{"route", "stage"})
	g.registry.MustRegister(g.requests, g.duration, g.stages, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// latencyBuckets resolve the millisecond range a gateway lives in (Prometheus's
// default buckets start at 5 ms), up to the upstream timeout range.
var latencyBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Handler is the proxy's handler (its own endpoints included unless AdminListen is set).
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler serves /healthz, /readyz and /metrics when AdminListen is set (else nil).
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// Close releases the Redis client.
func (g *Gateway) Close() error {
	var errs []error
	for _, c := range g.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Warm fetches the JWKS now (start-up), so that the first requests need not wait for it.
func (g *Gateway) Warm(ctx context.Context) error { return g.jwks.Refresh(ctx) }

// bufferPool recycles the proxy's copy buffers; without one, ReverseProxy
// allocates 32 KiB per proxied response, most of the gateway's garbage.
type bufferPool struct{}

var proxyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *proxyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { proxyBuffers.Put(&b) }

// statusRecorder remembers the status for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// route guards one configured route.
func (g *Gateway) route(rt Route, ex *extractor) http.Handler {
	label, acr := rt.Pattern(), rt.ACR()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		outcome, opID := "proxied", ""
		defer func() {
			g.requests.WithLabelValues(label, outcome).Inc()
			g.duration.WithLabelValues(label).Observe(time.Since(start).Seconds())
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelWarn
			}
			g.logger.Log(r.Context(), level, "gateway request", "route", label, "method", r.Method, "status", rec.status,
				"outcome", outcome, "operation_id", opID, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		if !rt.Guarded() {
			if g.proxy == nil {
				allow(rec, nil)
				outcome = "allowed"
				return
			}
			g.forward(rec, r, nil, &outcome)
			return
		}
		fromTxnHeader := strings.TrimSpace(r.Header.Get(verify.HeaderTxnToken)) != ""
		token := verify.TokenFromHeaders(r.Header.Get(verify.HeaderTxnToken), r.Header.Get("Authorization"))
		var binding func() (verify.Binding, error)
		if ex != nil {
			binding = func() (verify.Binding, error) { return ex.extract(r) }
		}
		// Verify, check the authentication class and the binding, and only then consume: a
		// tampered request, or a payment approved with one factor on an SCA route, is refused
		// without burning the user's token (verify.Check with consume=false).
		claims, err := verify.Check(r.Context(), g.verifier, token, false, acr, binding)
		stage := g.stageTimer(label, start)
		stage("verify")
		if err == nil {
			opID = claims.Op
			err = g.consume(r.Context(), token, claims)
			stage("consume")
		}
		if err != nil {
			outcome = g.refuse(rec, r, err)
			return
		}
		if g.proxy == nil { // mode authz: the proxy in front forwards the request
			allow(rec, claims)
			outcome = "allowed"
			return
		}
		// The token is spent here; the upstream gets the verified identity, not the token.
		if fromTxnHeader {
			r.Header.Del(verify.HeaderTxnToken)
		} else {
			r.Header.Del("Authorization")
		}
		g.forward(rec, r, claims, &outcome)
		stage("upstream")
	})
}

// stageTimer returns a function that records the time since the previous
// stage ended (the first stage starts at from) under the given stage name.
func (g *Gateway) stageTimer(route string, from time.Time) func(stage string) {
	return func(stage string) {
		now := time.Now()
		g.stages.WithLabelValues(route, stage).Observe(now.Sub(from).Seconds())
		from = now
	}
}

func (g *Gateway) forward(w *statusRecorder, r *http.Request, claims *verify.Claims, outcome *string) {
	if claims != nil {
		r = r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims))
	}
	g.proxy.ServeHTTP(w, r)
	if w.status == http.StatusBadGateway {
		*outcome = "upstream_error"
	}
}

// refuse answers a problem for err and returns the metrics outcome. The cause is logged; the
// client sees only the kind (every token failure looks the same from outside).
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, err error) string {
	var p verify.Problem
	var outcome string
	switch {
	case errors.Is(err, errBodyTooLarge):
		p = verify.Problem{Type: verify.ProblemTypeBase + "body_too_large", Title: "Request body too large",
			Status: http.StatusRequestEntityTooLarge, Code: "body_too_large"}
		outcome = "bad_request"
	default:
		p = verify.ProblemFor(err)
		outcome = map[int]string{401: "invalid_token", 403: "binding_mismatch", 400: "bad_request", 409: "replayed"}[p.Status]
		if errors.Is(err, verify.ErrInsufficientAuthentication) {
			outcome = "insufficient_authentication"
		}
		if outcome == "" {
			outcome = "unavailable"
		}
		if p.Status == 401 && requestToken(r) == "" {
			outcome = "no_token"
		}
	}
	g.logger.InfoContext(r.Context(), "gateway refused a request", "status", p.Status, "cause", err.Error())
	g.writeProblem(w, p)
	return outcome
}

func requestToken(r *http.Request) string {
	return verify.TokenFromHeaders(r.Header.Get(verify.HeaderTxnToken), r.Header.Get("Authorization"))
}

func (g *Gateway) unmatched() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.cfg.Unmatched == "allow" {
			g.requests.WithLabelValues("unmatched", "allowed").Inc()
			allow(w, nil)
			return
		}
		if g.cfg.Unmatched == "proxy" {
			rec := &statusRecorder{ResponseWriter: w}
			outcome := "proxied"
			g.forward(rec, r, nil, &outcome)
			g.requests.WithLabelValues("unmatched", outcome).Inc()
			return
		}
		g.requests.WithLabelValues("unmatched", "not_found").Inc()
		g.writeProblem(w, verify.Problem{Type: verify.ProblemTypeBase + "not_found", Title: "Not found",
			Status: http.StatusNotFound, Code: "not_found"})
	})
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// readinessKid is a kid no key has: looking it up answers ErrUnknownKey when the key set is
// loaded and current, ErrUnavailable when it cannot be fetched, and goes through the JWKS
// cache's refresh rate limit, so probing readiness cannot make the gateway hammer Signet.
const readinessKid = "signet-gateway-readiness-probe"

// readyz answers 200 when the JWKS is loaded and the replay store (Redis) answers.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"jwks": "ok"}
	ok := true
	if _, err := g.jwks.Key(ctx, readinessKid); !errors.Is(err, verify.ErrUnknownKey) {
		checks["jwks"], ok = "unavailable", false
	}
	if g.ping != nil {
		checks["replay"] = "ok"
		if err := g.ping(ctx); err != nil {
			checks["replay"], ok = "unavailable", false
		}
	}
	// The same shape as signet serve's /readyz: {"status": "ok" | "unavailable", "checks": {name: "ok" | "unavailable"}}.
	status := "ok"
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		status = "unavailable"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": checks})
}

// newServer is the HTTP server of one of Serve's listeners. A client must send its headers within
// 10 s and its request within 60 s (a slow client cannot hold connections open), and a response
// may take the upstream timeout and 30 s more to write (the gateway's own 502 after an upstream
// timeout included).
func (g *Gateway) newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: time.Duration(g.cfg.UpstreamTimeout) + 30*time.Second, IdleTimeout: 90 * time.Second,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn)}
}

// Serve runs the proxy on ln (and the admin endpoints on adminLn when not nil) until ctx ends,
// then shuts down gracefully: stop accepting, finish requests in flight within ShutdownTimeout.
func (g *Gateway) Serve(ctx context.Context, ln, adminLn net.Listener) error {
	servers := []*http.Server{g.newServer(g.handler)}
	listeners := []net.Listener{ln}
	if adminLn != nil && g.admin != nil {
		servers = append(servers, g.newServer(g.admin))
		listeners = append(listeners, adminLn)
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	var first error
	select {
	case err := <-errc:
		first = err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(g.cfg.ShutdownTimeout))
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && first == nil {
			first = err
		}
	}
	if errors.Is(first, http.ErrServerClosed) {
		first = nil
	}
	return first
}
