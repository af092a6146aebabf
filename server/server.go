package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/inbox"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
)

// Pinger is a dependency whose reachability /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the concrete services cmd/signet wires in.
type Deps struct {
	Logger   *slog.Logger
	APIKeys  []config.APIKey
	Accounts *account.Service
	// Operations, Devices: the operation and device-key services (nil: those
	// routes are not registered).
	Operations *txsign.Service
	Devices    *devicekey.Service
	// Web: passkeys, passcode and the hosted pages (nil: not registered).
	Web *webauthn.Service
	// Activation: PowerAuth applications, activations, the /pa/v3 device API
	// and mobile-token operations (nil: those routes are not registered).
	Activation *activation.Service
	// Inbox: the bank's messages to a user, read by the PowerAuth app (nil, or Activation nil: not
	// registered).
	Inbox *inbox.Service
	// Evidence builds dispute-evidence bundles (nil: GET /v1/operations/{id}/evidence is not
	// registered).
	Evidence *evidence.Builder
	// Ready lists named dependencies that must answer for /readyz.
	Ready map[string]Pinger
	// Limiter decides the rate limits of the public endpoints (nil: no limits).
	Limiter RateLimiter
	// Feed carries operation changes between replicas (nil: this process is the only one, and
	// waiters learn of changes made elsewhere only by the store poll).
	Feed Feed
	// Registry collects metrics; nil creates a fresh one.
	Registry *prometheus.Registry
	// Now is injected for tests; nil means time.Now.
	Now func() time.Time
}

// Options are the HTTP knobs from the configuration.
type Options struct {
	MaxBodyBytes   int
	RequestTimeout time.Duration
	// RateLimits apply when Deps.Limiter is set.
	RateLimits RateLimits
	// HSTS sends Strict-Transport-Security on every response (RFC 6797). Set it when clients
	// reach Signet over https, which cmd/signet decides from the public URL's scheme.
	HSTS bool
	// OperationPoll is how often a long-poll or event stream reads its operation from the store
	// to see a change made by another replica: default 1 s without a Deps.Feed, and a safety
	// poll of 30 s with one (the feed wakes waiters at once). A change in this process wakes
	// waiters at once through the hub, whatever this interval.
	OperationPoll time.Duration
	// Brand is the bank's name, logo, colours and support link on the hosted
	// pages (the zero Brand is neutral).
	Brand web.Brand
}

// Server is the fiber application with its dependencies.
type Server struct {
	app     *fiber.App
	admin   *fiber.App // the admin listener's: /metrics, /healthz, /readyz
	deps    Deps
	opts    Options
	metrics *metrics
	keys    *apiKeys
	hub     *hub // wakes long-polls and event streams on operation changes
	// draining is set by Drain: /readyz answers 503 and connections close after each response.
	draining atomic.Bool
}

// New builds the application and registers every route.
func New(deps Deps, opts Options) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 15 * time.Second
	}
	if opts.OperationPoll <= 0 {
		opts.OperationPoll = defaultPollEvery
		if deps.Feed != nil {
			opts.OperationPoll = feedSafetyPoll
		}
	}
	s := &Server{deps: deps, opts: opts, metrics: newMetrics(deps.Registry), keys: newAPIKeys(deps.APIKeys), hub: newHub()}
	if deps.Feed != nil {
		s.hub.startFeed(deps.Feed, s.metrics.feed, deps.Logger)
	}
	if deps.Operations != nil {
		deps.Operations.Observe(s.hub)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "signet",
		BodyLimit:             opts.MaxBodyBytes,
		ReadTimeout:           opts.RequestTimeout,
		WriteTimeout:          opts.RequestTimeout + 5*time.Second,
		IdleTimeout:           90 * time.Second,
		Immutable:             true, // values escape handlers (services, goroutines): copy them
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		StrictRouting:         false,
		CaseSensitive:         true,
	})
	s.routes()
	s.admin = fiber.New(fiber.Config{AppName: "signet-admin", DisableStartupMessage: true,
		ReadTimeout: opts.RequestTimeout, WriteTimeout: opts.RequestTimeout + 5*time.Second, IdleTimeout: 90 * time.Second})
	s.adminRoutes()
	return s
}

// Admin exposes the admin app (tests use Admin().Test).
func (s *Server) Admin() *fiber.App { return s.admin }

// ServeAdmin serves the admin routes (/metrics, /healthz, /readyz) on ln until Shutdown. Bind
// it to loopback or a monitoring network, never the internet.
func (s *Server) ServeAdmin(ln net.Listener) error {
	err := s.admin.Listener(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// App exposes the fiber app (tests use App().Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.app.Listener(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Drain starts a graceful exit (a rolling restart): /readyz answers 503 "draining" so the load
// balancer takes this replica out of rotation, and every response closes its connection so
// keep-alive clients reconnect to another replica. Requests are still served in full; call
// Shutdown once the load balancer has seen it (SIGNET_SHUTDOWN_DRAIN).
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting and waits for in-flight requests until ctx ends. Long-polls answer
// at once and event streams end, so they do not hold the shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.close()
	err := s.app.ShutdownWithContext(ctx)
	s.hub.stopFeedAfter(ctx) // after the last request: its change still reaches the other replicas
	return errors.Join(err, s.admin.ShutdownWithContext(ctx))
}
