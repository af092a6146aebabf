package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/inbox"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/opfeed"
	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
	"github.com/signet-sca/signet/webhook"
)

func newServeCmd(environ []string) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the Signet server (embedded SQLite by default; PostgreSQL and Redis when configured)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(environ)
			if err != nil {
				return err
			}
			if err := ensureEmbeddedSecrets(&cfg, cmd.ErrOrStderr()); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("configuration:\n  %s", indent(err.Error()))
			}
			logger := newLogger(cmd.ErrOrStderr(), cfg)
			return serve(cmd.Context(), cfg, logger, nil, cmd.ErrOrStderr())
		},
	}
}

// app is everything serve wires together; close releases it.
type app struct {
	server     *server.Server
	close      func()
	background []background
}

// buildApp opens the stores, applies migrations when configured and wires the
// services into the HTTP server.
func buildApp(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *app, err error) {
	st, ring, err := openCore(ctx, cfg, cfg.AutoMigrate, logger)
	if err != nil {
		return nil, err
	}
	closers := []func(){func() { _ = st.Close() }}
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	ready := map[string]server.Pinger{"database": st}
	registry := prometheus.NewRegistry()
	var rp replay.Store
	var limiter server.RateLimiter
	var feed server.Feed
	var redisClient redis.UniversalClient
	if cfg.RedisURL == "" {
		rp = replay.NewMemory(nil)
		limiter = ratelimit.NewMemory(0, nil)
	} else {
		redisreplay.RouteLogs(logger)
		w, _ := config.ParseWaitAOF(cfg.RedisConsumeWaitAOF) // validated
		r, err := redisreplay.Open(cfg.RedisURL, "signet:jti:", redisreplay.WithWaitAOF(redisreplay.WaitAOF(w)))
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		closers = append(closers, func() { _ = r.Close() })
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := r.Ping(pctx); err != nil {
			// Signet starts anyway (Redis may come up after it), but says what that means: every approval
			// and token consume fails closed with 503 until Redis answers, and /readyz reports it.
			logger.Warn("Redis is unreachable at start-up: approvals and token consumes answer 503 until it is back",
				"redis", redactURL(cfg.RedisURL), "err", err.Error())
		}
		cancel()
		if w.Enabled() {
			// Refuse to start rather than answer every consume 503 (or worse, believe a server
			// that cannot confirm durability).
			cctx, cancel := context.WithTimeout(ctx, w.Timeout+5*time.Second)
			err := r.CheckWaitAOF(cctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("SIGNET_REDIS_CONSUME_WAITAOF=%s: %w", cfg.RedisConsumeWaitAOF, err)
			}
			logger.Info("token consumes wait for WAITAOF", "local", w.Local, "replicas", w.Replicas, "timeout", w.Timeout.String())
		}
		rp, ready["redis"] = r, r
		lim, closeLim, err := sharedLimiter(cfg.RedisURL, registry, logger)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		closers = append(closers, closeLim)
		limiter = lim
		// Replicas wake each other's long-polls and event streams through Redis pub/sub, and keep
		// the WebAuthn ceremonies there.
		if redisClient, err = redisreplay.NewClient(cfg.RedisURL); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		closers = append(closers, func() { _ = redisClient.Close() })
		feed = opfeed.New(redisClient, "")
	}
	maintainAudit := auditMaintenance(st, int(cfg.AuditRetention), logger)
	if err := maintainAudit(ctx); err != nil {
		return nil, fmt.Errorf("audit partitions: %w", err)
	}
	auditLog := audit.New(st, nil, logger)
	keyring := txsign.NewKeyring(st, ring, txsign.KeyringConfig{RotateEvery: cfg.KeyRotation, MaxTokenTTL: config.MaxTokenTTL})
	if err := keyring.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	// Operation capabilities come from the KEK ring, so every replica mints and accepts the same.
	caps, err := txsign.NewCapabilities(ring)
	if err != nil {
		return nil, fmt.Errorf("operation capabilities: %w", err)
	}
	ops := txsign.NewService(st, auditLog, keyring, rp, txsign.Config{Issuer: cfg.Issuer, Audience: cfg.TokenAudience,
		TokenTTL: cfg.TokenTTL, MaxFailures: cfg.MaxFailures, PublicURL: cfg.PublicURL, Capabilities: caps,
		AttestedDeviceKeyTypes: cfg.DeviceAttestationOpTypes})
	apiKeys, _ := config.ParseAPIKeys(cfg.APIKeys)
	var rpOrigins []string
	for _, o := range cfg.RPOrigins {
		rpOrigins = append(rpOrigins, strings.TrimRight(o, "/"))
	}
	brand, err := cfg.Brand()
	if err != nil {
		return nil, err
	}
	fido, err := cfg.FIDOMetadata(time.Now())
	if err != nil {
		return nil, err
	}
	var authenticators webauthn.AuthenticatorPolicy
	if fido != nil {
		authenticators = fido
		logger.Info("FIDO metadata loaded", "models", fido.Len(), "blob_number", fido.Number(),
			"next_update", fido.NextUpdate().Format(time.DateOnly))
	}
	argon := webauthn.Argon2Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads}
	webSvc, err := webauthn.New(st, ops, auditLog, ring, webauthn.Config{RPID: cfg.RPID, RPDisplayName: cfg.RPDisplayName,
		SPCInstrument:    spcInstrument(cfg.PublicURL, cfg.RPDisplayName, brand),
		PasskeyOnlyTypes: cfg.PasskeyOnlyTypes, Authenticators: authenticators,
		RPOrigins: rpOrigins, PublicURL: cfg.PublicURL, UserVerification: cfg.UserVerification,
		CeremonyTimeout: cfg.WebAuthnTimeout, Ceremonies: ceremoniesFor(cfg, st, redisClient), PasscodeMaxFailures: cfg.PasscodeMaxFailures,
		Argon2: argon, Argon2Gate: webauthn.NewArgon2Gate(cfg.Argon2Concurrency, cfg.Argon2Queue, argon),
		ReturnURLs: cfg.WebReturnURLs, OpenerOrigins: cfg.WebOpenerOrigins})
	if err != nil {
		return nil, err
	}
	actCfg := activation.Config{}
	if cfg.ActivationHookURL != "" {
		actCfg.CustomCredentials = &webhook.CredentialHook{URL: cfg.ActivationHookURL, Secret: webhook.Secret(cfg.WebhookSecret),
			Client: webhook.NewClient(cfg.ActivationHookTimeout)}
	}
	act, err := activation.New(st, ops, auditLog, ring, rp, actCfg)
	if err != nil {
		return nil, err
	}
	events, err := wireEvents(cfg, st, ops, registry, logger)
	if err != nil {
		return nil, err
	}
	closers = append(closers, events.close) // runs before the store closes
	devices := devicekey.New(st, auditLog, nil)
	attPolicy, err := cfg.AttestationPolicy()
	if err != nil {
		return nil, err
	}
	devices.SetAttestationPolicy(attPolicy)
	inboxSvc := inbox.New(st, auditLog, nil)
	inboxSvc.Observe(events.pushes)
	deps := server.Deps{
		Logger:     logger,
		APIKeys:    apiKeys,
		Accounts:   account.New(st, auditLog, nil),
		Operations: ops,
		Devices:    devices,
		Web:        webSvc,
		Activation: act,
		Inbox:      inboxSvc,
		Evidence:   evidence.NewBuilder(st, keyring, cfg.Issuer, nil),
		Ready:      ready,
		Registry:   registry,
		Limiter:    limiter,
		Feed:       feed,
	}
	proxies, _ := config.ParseTrustedProxies(cfg.TrustedProxies) // checked by Validate
	srv := server.New(deps, server.Options{MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.RequestTimeout,
		RateLimits: server.RateLimits{Address: cfg.RateLimitAddress, JWKS: cfg.RateLimitJWKS,
			Operation: cfg.RateLimitOperation, Code: cfg.RateLimitCode, TrustedProxies: proxies},
		HSTS: cfg.HTTPS(), Brand: brand})
	bg := []background{
		{name: "operation expiry", every: 5 * time.Second, run: func(ctx context.Context) error { _, err := ops.ExpireDue(ctx); return err }},
		{name: "activation expiry", every: 10 * time.Second, run: func(ctx context.Context) error { _, err := act.ExpireDue(ctx); return err }},
		{name: "ceremony cleanup", every: time.Minute, run: func(ctx context.Context) error { _, err := webSvc.Sweep(ctx); return err }},
		{name: "audit partitions", every: time.Hour, run: maintainAudit},
		{name: "key rotation", every: time.Minute, run: func(ctx context.Context) error {
			rotated, err := keyring.RotateIfDue(ctx)
			if rotated {
				logger.Info("transaction-token signing key rotated")
			}
			return err
		}},
	}
	bg = append(bg, events.background...)
	return &app{server: srv, close: cleanup, background: bg}, nil
}

// ceremoniesFor picks where WebAuthn ceremonies (the challenges between begin and finish) live: in
// Redis when there is one (client), shared by every replica; in the database for PostgreSQL without
// Redis, the one thing replicas then share; in process in the embedded mode, where a restart loses
// the pending ones and customers press again.
func ceremoniesFor(cfg config.Config, st *sqlstore.Store, client redis.UniversalClient) webauthn.Ceremonies {
	switch {
	case client != nil:
		return ceremony.NewRedis(client, "")
	case cfg.Postgres():
		return ceremony.NewDB(st, nil)
	}
	return ceremony.NewMemory(nil, 0)
}

// openCore opens the store (migrating it when asked) and the KEK ring, which
// serve and the operator commands share.
func openCore(ctx context.Context, cfg config.Config, migrate bool, logger *slog.Logger) (*sqlstore.Store, *kek.Ring, error) {
	keks, err := config.ParseKEKs(cfg.KEK)
	if err != nil || len(keks) == 0 {
		return nil, nil, fmt.Errorf("SIGNET_KEK: a key-encryption key is required")
	}
	ring, err := kek.New(keks)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL, sqlstore.WithLogger(logger))
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	if migrate {
		applied, err := st.MigrateReporting(ctx, func(name string) { logger.Info("applying migration", "version", name) })
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("migrations: %w", err)
		}
		for _, m := range applied {
			logger.Info("migration applied", "version", m)
		}
	}
	return st, ring, nil
}

// background is a periodic job that runs while the server serves, or, with loop set, a job
// that runs until ctx ends and paces itself.
type background struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
	loop  func(ctx context.Context)
}

func runBackground(ctx context.Context, logger *slog.Logger, jobs []background) {
	for _, j := range jobs {
		if j.loop != nil {
			go j.loop(ctx)
			continue
		}
		go func() {
			t := time.NewTicker(j.every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					jctx, cancel := context.WithTimeout(ctx, j.every)
					if err := j.run(jctx); err != nil && ctx.Err() == nil {
						logger.Warn("background job failed", "job", j.name, "err", err)
					}
					cancel()
				}
			}
		}()
	}
}

// serve runs until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// gracefully: stop accepting, finish in-flight requests, close the stores.
// ready, when non-nil, receives the bound address (tests).
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, ready chan<- string, out io.Writer) error {
	a, err := buildApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	for _, w := range cfg.AddressWarnings() {
		logger.Warn(w)
	}
	if cfg.AdminAddr != "" {
		aln, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listener (SIGNET_ADMIN_ADDR=%s; set another address or off): %w", cfg.AdminAddr, err)
		}
		logger.Info("admin listening (/metrics, /healthz, /readyz)", "addr", aln.Addr().String())
		go func() {
			if err := a.server.ServeAdmin(aln); err != nil {
				logger.Error("admin listener failed", "addr", cfg.AdminAddr, "err", err)
			}
		}()
	}
	logger.Info("signet listening", "addr", ln.Addr().String(), "mode", modeOf(cfg), "issuer", cfg.Issuer)
	fmt.Fprintf(out, "Signet is serving on http://%s\n", displayAddr(ln.Addr()))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if cfg.PprofAddr != "" {
		stopPprof := servePprof(cfg.PprofAddr, logger)
		defer stopPprof()
	}
	bgctx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	runBackground(bgctx, logger, a.background)
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if cfg.ShutdownDrain > 0 {
		// Out of the load balancer's rotation first, still serving, then stop accepting.
		a.server.Drain()
		logger.Info("draining: /readyz answers 503", "for", cfg.ShutdownDrain.String())
		select {
		case err := <-errc:
			return err
		case <-time.After(cfg.ShutdownDrain):
		}
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := a.server.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Second):
		return nil
	}
}

// modeOf names what the server actually runs on: the embedded default, production (PostgreSQL and Redis),
// or a mix of the two, which works but is neither.
func modeOf(cfg config.Config) string {
	db, rp := "SQLite", "in-process replay store"
	if cfg.Postgres() {
		db = "PostgreSQL"
	}
	if cfg.RedisURL != "" {
		rp = "Redis replay store"
	}
	switch {
	case cfg.Embedded():
		return "embedded (" + db + ", " + rp + ")"
	case cfg.Postgres() && cfg.RedisURL != "":
		return "production (" + db + ", " + rp + ")"
	}
	return "mixed (" + db + ", " + rp + ")"
}

// redactURL drops a URL's password for the log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	return u.Redacted()
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// spcInstrument is the instrument the browser shows in a Secure Payment
// Confirmation dialog: the bank's name and logo (served at /web/brand/logo;
// browsers draw raster icons only, so an SVG logo gives way to Signet's card
// icon), else the relying party's display name and that icon.
func spcInstrument(publicURL, rpName string, b web.Brand) webauthn.SPCInstrument {
	base := strings.TrimRight(publicURL, "/")
	in := webauthn.SPCInstrument{DisplayName: b.Name, Icon: base + "/web/static/spc-icon.png"}
	if in.DisplayName == "" {
		in.DisplayName = rpName
	}
	if in.DisplayName == "" {
		in.DisplayName = "Signet"
	}
	if len(b.Logo) > 0 && b.LogoType != "image/svg+xml" {
		in.Icon = base + "/web/brand/logo"
	}
	return in
}
