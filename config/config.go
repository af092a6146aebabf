// Package config loads Signet's one Config struct from SIGNET_* environment
// variables (secrets also from *_FILE) and validates it, reporting every
// problem at once. Defaults give the embedded mode.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/web"
)

// Config is the whole configuration. Field tags name the public environment
// variables; README.md documents each.
type Config struct {
	HTTPAddr    string `env:"SIGNET_HTTP_ADDR" envDefault:":8080"`
	DatabaseURL string `env:"SIGNET_DATABASE_URL"` // default: <DataDir>/signet.db
	RedisURL    string `env:"SIGNET_REDIS_URL"`
	// RedisConsumeWaitAOF, "local,replicas[,timeout]" (e.g. "1,0" or "1,1,500ms"), makes every
	// token consume wait for WAITAOF (Redis ≥ 7.2) before it answers; unset: no wait.
	RedisConsumeWaitAOF string `env:"SIGNET_REDIS_CONSUME_WAITAOF"`
	DataDir             string `env:"SIGNET_DATA_DIR" envDefault:"./data"`

	// APIKeys are "name:secret[:scope]" entries, comma separated; scope is consume, bank
	// (the default) or admin (secret: also _FILE).
	APIKeys string `env:"SIGNET_API_KEYS"`
	// KEK is a comma-separated list of base64 32-byte key-encryption keys; the
	// first encrypts, all decrypt (secret: also _FILE).
	KEK string `env:"SIGNET_KEK"`

	Issuer        string        `env:"SIGNET_ISSUER" envDefault:"http://localhost:8080"`
	PublicURL     string        `env:"SIGNET_PUBLIC_URL"` // default: Issuer
	RPID          string        `env:"SIGNET_RP_ID" envDefault:"localhost"`
	RPOrigins     []string      `env:"SIGNET_RP_ORIGINS" envDefault:"http://localhost:8080" envSeparator:","`
	TokenTTL      time.Duration `env:"SIGNET_TOKEN_TTL" envDefault:"120s"`
	TokenAudience string        `env:"SIGNET_TOKEN_AUDIENCE" envDefault:"signet-gateway"`

	KeyRotation     time.Duration `env:"SIGNET_KEY_ROTATION" envDefault:"720h"`
	MaxFailures     int           `env:"SIGNET_OPERATION_MAX_FAILURES" envDefault:"5"`
	AutoMigrate     bool          `env:"SIGNET_AUTO_MIGRATE" envDefault:"true"`
	MaxBodyBytes    int           `env:"SIGNET_MAX_BODY_BYTES" envDefault:"65536"`
	RequestTimeout  time.Duration `env:"SIGNET_REQUEST_TIMEOUT" envDefault:"15s"`
	ShutdownTimeout time.Duration `env:"SIGNET_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// ShutdownDrain is how long serve keeps serving after SIGTERM with /readyz answering 503,
	// so a load balancer takes the replica out before it stops accepting (rolling restarts).
	ShutdownDrain time.Duration `env:"SIGNET_SHUTDOWN_DRAIN" envDefault:"0s"`
	LogFormat     string        `env:"SIGNET_LOG_FORMAT" envDefault:"text"`
	LogLevel      string        `env:"SIGNET_LOG_LEVEL" envDefault:"info"`
	// AdminAddr serves /metrics (and /healthz, /readyz) on a listener of its own; the public
	// listener answers 404 for /metrics. Default 127.0.0.1:9090 in embedded mode, none
	// otherwise; "off" turns it off. Bind it to loopback or a monitoring network only.
	AdminAddr string `env:"SIGNET_ADMIN_ADDR"`
	// PprofAddr, when set, serves net/http/pprof on a separate listener
	// (bind it to loopback; it is for profiling, never for the internet).
	PprofAddr string `env:"SIGNET_PPROF_ADDR"`

	// Web-native signing (passkeys + passcode, hosted pages).
	RPDisplayName       string        `env:"SIGNET_RP_DISPLAY_NAME" envDefault:"Signet"`
	UserVerification    string        `env:"SIGNET_WEBAUTHN_USER_VERIFICATION" envDefault:"preferred"`
	WebAuthnTimeout     time.Duration `env:"SIGNET_WEBAUTHN_TIMEOUT" envDefault:"5m"`
	PasscodeMaxFailures int           `env:"SIGNET_PASSCODE_MAX_FAILURES" envDefault:"3"`
	Argon2MemoryKiB     uint32        `env:"SIGNET_ARGON2_MEMORY_KIB" envDefault:"19456"`
	Argon2Time          uint32        `env:"SIGNET_ARGON2_TIME" envDefault:"2"`
	Argon2Threads       uint8         `env:"SIGNET_ARGON2_THREADS" envDefault:"1"`
	// Argon2Concurrency bounds the passcode hashes that run at once (0: one per
	// core, i.e. GOMAXPROCS / SIGNET_ARGON2_THREADS); Argon2Queue the requests
	// that may wait for one. Past both: 503 with Retry-After.
	Argon2Concurrency int      `env:"SIGNET_ARGON2_CONCURRENCY" envDefault:"0"`
	Argon2Queue       int      `env:"SIGNET_ARGON2_QUEUE" envDefault:"32"`
	WebReturnURLs     []string `env:"SIGNET_WEB_RETURN_URLS" envSeparator:","`
	WebOpenerOrigins  []string `env:"SIGNET_WEB_OPENER_ORIGINS" envSeparator:","`
	// Passkey-only approvals (docs/web-sdk.md): operation types a passkey with proven user verification,
	// from an authenticator model the FIDO Metadata Service BLOB allows, approves without the passcode.
	PasskeyOnlyTypes []string `env:"SIGNET_WEB_PASSKEY_ONLY_TYPES" envSeparator:","`
	FIDOMetadataBLOB string   `env:"SIGNET_FIDO_MDS_BLOB"` // path of the MDS3 BLOB (the JWT from mds3.fidoalliance.org)
	FIDOMetadataRoot string   `env:"SIGNET_FIDO_MDS_ROOT"` // path of a PEM root for the BLOB; unset: the FIDO Alliance's root
	// Branding of the hosted pages (all optional; unset: neutral pages).
	BrandName            string `env:"SIGNET_BRAND_NAME"`             // bank name: tab title, header, logo alt text
	BrandLogo            string `env:"SIGNET_BRAND_LOGO"`             // logo: a file path or a data: URL (PNG, JPEG, WebP, GIF, SVG; ≤ 256 KiB)
	BrandPrimaryColor    string `env:"SIGNET_BRAND_PRIMARY_COLOR"`    // #rrggbb for buttons and links; ≥ 4.5:1 against white
	BrandBackgroundColor string `env:"SIGNET_BRAND_BACKGROUND_COLOR"` // #rrggbb behind the card
	BrandSupportURL      string `env:"SIGNET_BRAND_SUPPORT_URL"`      // the bank's help page, linked from every page

	// Webhooks (operation events) and push notifications (cross-device approval).
	WebhookSecret     string `env:"SIGNET_WEBHOOK_SECRET"`      // HMAC-SHA256 key, ≥ 32 chars; unset: no webhooks (secret: also _FILE)
	WebhookDefaultURL string `env:"SIGNET_WEBHOOK_DEFAULT_URL"` // events of operations without callback_url
	// WebhookRetention: delivered and abandoned events are deleted from the outbox this long after
	// they were enqueued; events still being retried are kept.
	WebhookRetention time.Duration `env:"SIGNET_WEBHOOK_RETENTION" envDefault:"168h"`
	// ActivationHookURL verifies the credentials of PowerAuth CUSTOM activations (https; http only for
	// localhost), signed with SIGNET_WEBHOOK_SECRET; unset: custom activations are refused.
	ActivationHookURL     string        `env:"SIGNET_ACTIVATION_HOOK_URL"`
	ActivationHookTimeout time.Duration `env:"SIGNET_ACTIVATION_HOOK_TIMEOUT" envDefault:"5s"`
	PushURL               string        `env:"SIGNET_PUSH_URL"`    // push relay for FCM-shaped messages; unset: log provider
	PushSecret            string        `env:"SIGNET_PUSH_SECRET"` // signs push posts when set, ≥ 32 chars (secret: also _FILE)

	// Rate limits of the public endpoints, "<rate>/<period>[:<burst>]" or "off" (ratelimit.ParseLimit),
	// shared by every replica through Redis when SIGNET_REDIS_URL is set, per process otherwise.
	// The private API (API key) is not limited.
	RateLimitAddress   ratelimit.Limit `env:"SIGNET_RATE_LIMIT_ADDRESS" envDefault:"10/s:50"`   // per client address, all public endpoints
	RateLimitJWKS      ratelimit.Limit `env:"SIGNET_RATE_LIMIT_JWKS" envDefault:"20/s:100"`     // per client address, the JWKS
	RateLimitOperation ratelimit.Limit `env:"SIGNET_RATE_LIMIT_OPERATION" envDefault:"10/m:10"` // per operation: signing data, approve, reject, browser approval
	RateLimitCode      ratelimit.Limit `env:"SIGNET_RATE_LIMIT_CODE" envDefault:"5/m:5"`        // per registration code and per enrollment link
	// TrustedProxies: CIDRs (or addresses) of the reverse proxies / load balancers in front of
	// Signet; only from these is X-Forwarded-For believed for the client address.
	TrustedProxies []string `env:"SIGNET_TRUSTED_PROXIES" envSeparator:","`

	// AuditRetention: how long audit events stay in the database's audit_events table (the audit
	// API, evidence bundles), "<n>y" or "<n>mo". On PostgreSQL, monthly partitions entirely older
	// are detached (never dropped) for export and archive (docs/audit.md).
	AuditRetention Months `env:"SIGNET_AUDIT_RETENTION" envDefault:"5y"`

	// Device-key attestation (docs/device-keys.md).
	DeviceAttestationRequired    bool          `env:"SIGNET_DEVICE_ATTESTATION_REQUIRED"`                         // refuse device keys without a platform attestation
	DeviceAttestationOpTypes     []string      `env:"SIGNET_DEVICE_ATTESTATION_OPERATION_TYPES" envSeparator:","` // operation types ("*": all) only attested device keys may approve
	AndroidAttestationRoots      string        `env:"SIGNET_ANDROID_ATTESTATION_ROOTS"`                           // PEM file of trust anchors; default: Google's roots
	AndroidPackages              []string      `env:"SIGNET_ANDROID_PACKAGES" envSeparator:","`
	AndroidSigningCerts          []string      `env:"SIGNET_ANDROID_SIGNING_CERT_DIGESTS" envSeparator:","` // hex SHA-256 of the app's signing certificates
	AndroidMinPatchLevel         int           `env:"SIGNET_ANDROID_MIN_PATCH_LEVEL"`                       // YYYYMM; 0: not checked
	AndroidRequireStrongBox      bool          `env:"SIGNET_ANDROID_REQUIRE_STRONGBOX"`
	AndroidAllowUnlocked         bool          `env:"SIGNET_ANDROID_ALLOW_UNLOCKED"`
	AndroidRevocationURL         string        `env:"SIGNET_ANDROID_REVOCATION_URL" envDefault:"https://android.googleapis.com/attestation/status"` // "off": not consulted
	AndroidRevocationTTL         time.Duration `env:"SIGNET_ANDROID_REVOCATION_TTL" envDefault:"1h"`
	AndroidRevocationUnreachable string        `env:"SIGNET_ANDROID_REVOCATION_UNREACHABLE" envDefault:"accept"` // accept (with a note) or refuse
	AppleAppIDs                  []string      `env:"SIGNET_APPLE_APP_IDS" envSeparator:","`                     // TEAMID.bundle.id
	AppleAppAttestRoots          string        `env:"SIGNET_APPLE_APPATTEST_ROOTS"`                              // PEM file; default: Apple's App Attestation root
	AppleAppAttestDevelopment    bool          `env:"SIGNET_APPLE_APPATTEST_DEVELOPMENT"`                        // accept the development environment
}

// AttestationPolicy builds the device-key attestation policy, reading the trust-anchor files.
func (c Config) AttestationPolicy() (devicekey.AttestationPolicy, error) {
	var errs []error
	p := devicekey.AttestationPolicy{Required: c.DeviceAttestationRequired}
	a := &p.Android
	if c.AndroidAttestationRoots != "" {
		roots, err := readRoots(c.AndroidAttestationRoots)
		if err != nil {
			errs = append(errs, fmt.Errorf("SIGNET_ANDROID_ATTESTATION_ROOTS: %w", err))
		}
		a.Roots = roots
	}
	a.PackageNames = c.AndroidPackages
	for _, d := range c.AndroidSigningCerts {
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(d), ":", ""))
		if err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("SIGNET_ANDROID_SIGNING_CERT_DIGESTS: %q is not a hex SHA-256 digest", d))
			continue
		}
		a.SigningCertDigests = append(a.SigningCertDigests, b)
	}
	if c.AndroidMinPatchLevel != 0 && (c.AndroidMinPatchLevel < 201001 || c.AndroidMinPatchLevel%100 < 1 || c.AndroidMinPatchLevel%100 > 12) {
		errs = append(errs, fmt.Errorf("SIGNET_ANDROID_MIN_PATCH_LEVEL must be YYYYMM, e.g. 202501"))
	}
	a.MinOSPatchLevel, a.RequireStrongBox, a.AllowUnlocked = c.AndroidMinPatchLevel, c.AndroidRequireStrongBox, c.AndroidAllowUnlocked
	if c.AndroidRevocationURL != "off" && c.AndroidRevocationURL != "" {
		if u, err := url.Parse(c.AndroidRevocationURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("SIGNET_ANDROID_REVOCATION_URL must be an http(s) URL or off"))
		}
		a.Revocations = &attest.RevocationList{URL: c.AndroidRevocationURL, TTL: c.AndroidRevocationTTL}
	}
	switch c.AndroidRevocationUnreachable {
	case "accept", "":
	case "refuse":
		a.RefuseUnreachableRevocations = true
	default:
		errs = append(errs, fmt.Errorf("SIGNET_ANDROID_REVOCATION_UNREACHABLE must be accept or refuse"))
	}
	if c.AppleAppAttestRoots != "" {
		roots, err := readRoots(c.AppleAppAttestRoots)
		if err != nil {
			errs = append(errs, fmt.Errorf("SIGNET_APPLE_APPATTEST_ROOTS: %w", err))
		}
		p.Apple.Roots = roots
	}
	for _, id := range c.AppleAppIDs {
		if team, bundle, ok := strings.Cut(id, "."); !ok || len(team) != 10 || bundle == "" {
			errs = append(errs, fmt.Errorf("SIGNET_APPLE_APP_IDS: %q is not TEAMID.bundle.id (a 10-character team id)", id))
		}
	}
	p.Apple.AppIDs, p.Apple.AllowDevelopment = c.AppleAppIDs, c.AppleAppAttestDevelopment
	return p, errors.Join(errs...)
}

func readRoots(path string) ([]*attest.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return attest.ParsePEM(b)
}

// secretVars may also be given as <NAME>_FILE, a path whose content is the value.
var secretVars = []string{"SIGNET_API_KEYS", "SIGNET_KEK", "SIGNET_REDIS_URL", "SIGNET_DATABASE_URL",
	"SIGNET_WEBHOOK_SECRET", "SIGNET_PUSH_SECRET"}

// DefaultEmbeddedAdminAddr is the admin listener of embedded mode: loopback only.
const DefaultEmbeddedAdminAddr = "127.0.0.1:9090"

// MaxTokenTTL is the longest transaction-token lifetime (ARCHITECTURE.md).
const MaxTokenTTL = 300 * time.Second

// Load reads the configuration from environ (os.Environ() form). It does not
// validate; call Validate.
func Load(environ []string) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var errs []error
	for _, name := range secretVars {
		path, ok := vars[name+"_FILE"]
		if !ok || path == "" {
			continue
		}
		if _, both := vars[name]; both {
			errs = append(errs, fmt.Errorf("%s and %s_FILE are both set; use one", name, name))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
			continue
		}
		vars[name] = strings.TrimSpace(string(b))
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = strings.TrimRight(c.DataDir, "/") + "/signet.db"
	}
	c.deriveLocalURLs(vars)
	if c.PublicURL == "" {
		c.PublicURL = c.Issuer
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	switch {
	case c.AdminAddr == "" && c.Embedded():
		c.AdminAddr = DefaultEmbeddedAdminAddr
	case c.AdminAddr == "off":
		c.AdminAddr = ""
	}
	return c, errors.Join(errs...)
}

// deriveLocalURLs: in embedded mode the issuer, the approval pages' base and the WebAuthn origin default to
// http://localhost:<listen port>, so that changing only SIGNET_HTTP_ADDR moves all of them together. Values
// set explicitly are kept (AddressWarnings reports a disagreement).
func (c *Config) deriveLocalURLs(vars map[string]string) {
	if !c.Embedded() {
		return
	}
	_, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || port == "" || port == "0" || port == "8080" {
		return
	}
	local := "http://localhost:" + port
	if _, set := vars["SIGNET_ISSUER"]; !set {
		c.Issuer = local
	}
	if _, set := vars["SIGNET_RP_ORIGINS"]; !set {
		c.RPOrigins = []string{local}
	}
}

// AddressWarnings lists the configured URLs that point at this machine (localhost or a loopback address) on a
// port other than the one Signet listens on: a browser sent there would not reach this server. URLs with a
// real host name are not checked, since a proxy in front may well listen elsewhere.
func (c Config) AddressWarnings() []string {
	_, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	var out []string
	check := func(name, raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return
		}
		host, p := u.Hostname(), u.Port()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return
		}
		if p == "" {
			p = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if p != port {
			out = append(out, fmt.Sprintf("%s is %s but Signet listens on port %s (SIGNET_HTTP_ADDR=%s)", name, raw, port, c.HTTPAddr))
		}
	}
	check("SIGNET_ISSUER", c.Issuer)
	check("SIGNET_PUBLIC_URL", c.PublicURL)
	for _, o := range c.RPOrigins {
		check("SIGNET_RP_ORIGINS", o)
	}
	return out
}

// databaseURLProblem: PostgreSQL URLs (postgres://, postgresql://), SQLite as sqlite:, sqlite://, file: or a
// plain path. Any other scheme is an error rather than a file path, so that a mistyped "postgress://" does not
// quietly start an embedded instance in a directory named after the URL.
func databaseURLProblem(raw string) string {
	if raw == "" {
		return "SIGNET_DATABASE_URL must not be empty"
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || !isScheme(scheme) {
		return "" // a plain path
	}
	switch scheme { // exact: the store selects its driver by these lower-case prefixes
	case "postgres", "postgresql":
		if !strings.HasPrefix(raw, scheme+"://") {
			return fmt.Sprintf("SIGNET_DATABASE_URL: a PostgreSQL URL starts %s://", scheme)
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" && u.Query().Get("host") == "" {
			return "SIGNET_DATABASE_URL: the PostgreSQL URL does not parse or names no host"
		}
		return ""
	case "sqlite", "file":
		return ""
	}
	return fmt.Sprintf("SIGNET_DATABASE_URL: unknown scheme %q; use postgres:// or postgresql:// for PostgreSQL, "+
		"or sqlite:, file: or a plain file path for SQLite (schemes are lower case)", scheme)
}

// DatabaseURLError reports a SIGNET_DATABASE_URL that selects no known database (Validate reports it too);
// commands that open the database without the server's whole configuration check it alone.
func (c Config) DatabaseURLError() error {
	if p := databaseURLProblem(c.DatabaseURL); p != "" {
		return errors.New(p)
	}
	return nil
}

// isScheme reports whether s has the syntax of a URI scheme (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" /
// "-" / "." )), two characters or more so that a Windows drive letter is not taken for one.
func isScheme(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Embedded reports whether the configuration is the zero-setup embedded mode
// (SQLite and the in-process replay store).
func (c Config) Embedded() bool { return !c.Postgres() && c.RedisURL == "" }

// HTTPS reports whether clients reach Signet over https: the public URL's scheme says so,
// whether TLS ends in a proxy in front of Signet or not. The server then sends HSTS.
func (c Config) HTTPS() bool { return strings.HasPrefix(strings.ToLower(c.PublicURL), "https://") }

// Postgres reports whether the database URL selects PostgreSQL.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// FIDOMetadata loads and verifies the FIDO MDS3 BLOB (SIGNET_FIDO_MDS_BLOB, SIGNET_FIDO_MDS_ROOT);
// nil when none is configured.
func (c Config) FIDOMetadata(now time.Time) (*mds.Allowlist, error) {
	if c.FIDOMetadataBLOB == "" {
		return nil, nil
	}
	var rootPEM []byte
	if c.FIDOMetadataRoot != "" {
		b, err := os.ReadFile(c.FIDOMetadataRoot)
		if err != nil {
			return nil, fmt.Errorf("SIGNET_FIDO_MDS_ROOT: %w", err)
		}
		rootPEM = b
	}
	root, err := mds.RootFromPEM(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("SIGNET_FIDO_MDS_ROOT: %w", err)
	}
	blob, err := os.ReadFile(c.FIDOMetadataBLOB)
	if err != nil {
		return nil, fmt.Errorf("SIGNET_FIDO_MDS_BLOB: %w", err)
	}
	a, err := mds.Load(blob, root, now)
	if err != nil {
		return nil, fmt.Errorf("SIGNET_FIDO_MDS_BLOB: %w", err)
	}
	return a, nil
}

// Brand loads the hosted pages' branding (SIGNET_BRAND_*), its logo included.
func (c Config) Brand() (web.Brand, error) {
	return web.LoadBrand(web.BrandConfig{Name: c.BrandName, Logo: c.BrandLogo, PrimaryColor: c.BrandPrimaryColor,
		BackgroundColor: c.BrandBackgroundColor, SupportURL: c.BrandSupportURL})
}

// Validate reports every problem at once, joined. Missing API keys and KEK are
// allowed only in embedded mode, where the server generates and persists them.
// Each step checks one area of the configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, step := range []func(Config, func(string, ...any)){
		Config.validateListeners, Config.validateRedis, Config.validateSecrets, Config.validateTokens,
		Config.validateServer, Config.validateWebAuthn, Config.validateWeb, Config.validateNotifications,
		Config.validateRetention, Config.validateAttestation,
	} {
		step(c, bad)
	}
	return errors.Join(errs...)
}

// validateAttestation checks the device-key attestation policy (docs/device-keys.md).
func (c Config) validateAttestation(bad func(format string, args ...any)) {
	if _, err := c.AttestationPolicy(); err != nil {
		bad("%v", err)
	}
}

// validateListeners checks the listeners, the database and the trusted proxies in front of them.
func (c Config) validateListeners(bad func(format string, args ...any)) {
	if c.HTTPAddr == "" {
		bad("SIGNET_HTTP_ADDR must not be empty")
	}
	if p := databaseURLProblem(c.DatabaseURL); p != "" {
		bad("%s", p)
	}
	if c.AdminAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil {
			bad("SIGNET_ADMIN_ADDR must be host:port (e.g. 127.0.0.1:9090) or off")
		} else if c.AdminAddr == c.HTTPAddr && port != "0" {
			bad("SIGNET_ADMIN_ADDR must differ from SIGNET_HTTP_ADDR: metrics are not for the public listener")
		}
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		bad("SIGNET_TRUSTED_PROXIES: %v", err)
	}
}

// validateRedis checks the Redis replay store and its WAITAOF durability.
func (c Config) validateRedis(bad func(format string, args ...any)) {
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "redis-sentinel") {
			bad("SIGNET_REDIS_URL must be a redis://, rediss:// or redis-sentinel:// URL")
		}
	}
	if w, err := ParseWaitAOF(c.RedisConsumeWaitAOF); err != nil {
		bad("SIGNET_REDIS_CONSUME_WAITAOF: %v", err)
	} else if w.Enabled() && c.RedisURL == "" {
		bad("SIGNET_REDIS_CONSUME_WAITAOF needs SIGNET_REDIS_URL (the in-process replay store has nothing to wait for)")
	}
}

// validateSecrets checks the API keys and the key-encryption keys.
func (c Config) validateSecrets(bad func(format string, args ...any)) {
	if _, err := ParseAPIKeys(c.APIKeys); err != nil {
		bad("SIGNET_API_KEYS: %v", err)
	} else if c.APIKeys == "" && !c.Embedded() {
		bad("SIGNET_API_KEYS is required outside embedded mode")
	}
	if _, err := ParseKEKs(c.KEK); err != nil {
		bad("SIGNET_KEK: %v", err)
	} else if c.KEK == "" && !c.Embedded() {
		bad("SIGNET_KEK is required outside embedded mode")
	}
}

// validateTokens checks the transaction tokens: issuer, public URL, lifetime, audience, signing key rotation, attempts per operation.
func (c Config) validateTokens(bad func(format string, args ...any)) {
	for name, v := range map[string]string{"SIGNET_ISSUER": c.Issuer, "SIGNET_PUBLIC_URL": c.PublicURL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s must be an absolute http(s) URL, got %q", name, v)
		}
	}
	if c.TokenTTL <= 0 || c.TokenTTL > MaxTokenTTL {
		bad("SIGNET_TOKEN_TTL must be between 1s and %s, got %s", MaxTokenTTL, c.TokenTTL)
	}
	if c.TokenAudience == "" {
		bad("SIGNET_TOKEN_AUDIENCE must not be empty")
	}
	if c.KeyRotation != 0 && c.KeyRotation < 2*MaxTokenTTL {
		bad("SIGNET_KEY_ROTATION must be 0 (off) or at least %s", 2*MaxTokenTTL)
	}
	if c.MaxFailures < 1 || c.MaxFailures > 100 {
		bad("SIGNET_OPERATION_MAX_FAILURES must be between 1 and 100")
	}
}

// validateServer checks the HTTP limits, timeouts and logging.
func (c Config) validateServer(bad func(format string, args ...any)) {
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		bad("SIGNET_MAX_BODY_BYTES must be between 1024 and 16777216")
	}
	if c.RequestTimeout <= 0 {
		bad("SIGNET_REQUEST_TIMEOUT must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		bad("SIGNET_SHUTDOWN_TIMEOUT must be positive")
	}
	if c.ShutdownDrain < 0 || c.ShutdownDrain > 10*time.Minute {
		bad("SIGNET_SHUTDOWN_DRAIN must be between 0s and 10m")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("SIGNET_LOG_FORMAT must be text or json")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("SIGNET_LOG_LEVEL must be debug, info, warn or error")
	}
}

// validateWebAuthn checks the relying party, user verification, ceremonies and the passcode (Argon2id).
func (c Config) validateWebAuthn(bad func(format string, args ...any)) {
	if c.RPID == "" {
		bad("SIGNET_RP_ID must not be empty")
	}
	if len(c.RPOrigins) == 0 {
		bad("SIGNET_RP_ORIGINS must list at least one origin")
	}
	for _, o := range c.RPOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("SIGNET_RP_ORIGINS: %q is not an origin (scheme://host[:port])", o)
		}
	}
	switch c.UserVerification {
	case "required", "preferred", "discouraged":
	default:
		bad("SIGNET_WEBAUTHN_USER_VERIFICATION must be required, preferred or discouraged")
	}
	if c.WebAuthnTimeout < 30*time.Second || c.WebAuthnTimeout > 15*time.Minute {
		bad("SIGNET_WEBAUTHN_TIMEOUT must be between 30s and 15m")
	}
	if c.PasscodeMaxFailures < 1 || c.PasscodeMaxFailures > 10 {
		bad("SIGNET_PASSCODE_MAX_FAILURES must be between 1 and 10")
	}
	if c.Argon2MemoryKiB < 1024 || c.Argon2MemoryKiB > 4<<20 {
		bad("SIGNET_ARGON2_MEMORY_KIB must be between 1024 and 4194304")
	}
	if c.Argon2Time < 1 || c.Argon2Time > 16 {
		bad("SIGNET_ARGON2_TIME must be between 1 and 16")
	}
	if c.Argon2Threads < 1 || c.Argon2Threads > 16 {
		bad("SIGNET_ARGON2_THREADS must be between 1 and 16")
	}
	if c.Argon2Concurrency < 0 || c.Argon2Concurrency > 1024 {
		bad("SIGNET_ARGON2_CONCURRENCY must be between 0 (one per core) and 1024")
	}
	if c.Argon2Queue < 0 || c.Argon2Queue > 100000 {
		bad("SIGNET_ARGON2_QUEUE must be between 0 and 100000")
	}
}

// validateWeb checks the hosted pages' return URLs and opener origins.
func (c Config) validateWeb(bad func(format string, args ...any)) {
	for _, r := range c.WebReturnURLs {
		u, err := url.Parse(r)
		local := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !(u.Scheme == "https" || (u.Scheme == "http" && local)) {
			bad("SIGNET_WEB_RETURN_URLS: %q must be an https URL prefix (http only for localhost) without query or fragment", r)
		}
	}
	if _, err := c.Brand(); err != nil {
		bad("%v", err)
	}
	for _, t := range c.PasskeyOnlyTypes {
		if strings.TrimSpace(t) == "" {
			bad("SIGNET_WEB_PASSKEY_ONLY_TYPES: an empty operation type")
		}
	}
	if len(c.PasskeyOnlyTypes) > 0 && c.FIDOMetadataBLOB == "" {
		bad("SIGNET_WEB_PASSKEY_ONLY_TYPES needs SIGNET_FIDO_MDS_BLOB (the authenticator models allowed)")
	}
	if c.FIDOMetadataRoot != "" && c.FIDOMetadataBLOB == "" {
		bad("SIGNET_FIDO_MDS_ROOT is set without SIGNET_FIDO_MDS_BLOB")
	}
	if _, err := c.FIDOMetadata(time.Now()); err != nil {
		bad("%v", err)
	}
	for _, o := range c.WebOpenerOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			bad("SIGNET_WEB_OPENER_ORIGINS: %q is not an origin (scheme://host[:port])", o)
		}
	}
}

// validateNotifications checks the webhooks and the push relay.
func (c Config) validateNotifications(bad func(format string, args ...any)) {
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 32 {
		bad("SIGNET_WEBHOOK_SECRET must be at least 32 characters")
	}
	// The reconciler re-checks the operations of the last 2 h (webhook.DefaultWindow) and would
	// enqueue an event pruned sooner again.
	if c.WebhookRetention < 24*time.Hour {
		bad("SIGNET_WEBHOOK_RETENTION must be at least 24h")
	}
	if c.WebhookDefaultURL != "" {
		// The same rule as an operation's callback_url: https, http only on loopback.
		u, err := url.Parse(c.WebhookDefaultURL)
		local := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || (u.Scheme == "http" && local)) {
			bad("SIGNET_WEBHOOK_DEFAULT_URL must be an https URL (http only for localhost)")
		}
		if c.WebhookSecret == "" {
			bad("SIGNET_WEBHOOK_DEFAULT_URL needs SIGNET_WEBHOOK_SECRET: every event is signed")
		}
	}
	if c.ActivationHookURL != "" {
		u, err := url.Parse(c.ActivationHookURL)
		local := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || (u.Scheme == "http" && local)) {
			bad("SIGNET_ACTIVATION_HOOK_URL must be an https URL (http only for localhost)")
		}
		if c.WebhookSecret == "" {
			bad("SIGNET_ACTIVATION_HOOK_URL needs SIGNET_WEBHOOK_SECRET: the check and its answer are signed")
		}
	}
	if c.ActivationHookTimeout < 100*time.Millisecond || c.ActivationHookTimeout > time.Minute {
		bad("SIGNET_ACTIVATION_HOOK_TIMEOUT must be between 100ms and 1m")
	}
	if c.PushURL != "" {
		if u, err := url.Parse(c.PushURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			bad("SIGNET_PUSH_URL must be an absolute http(s) URL without credentials")
		}
	}
	if c.PushSecret != "" && len(c.PushSecret) < 32 {
		bad("SIGNET_PUSH_SECRET must be at least 32 characters")
	}
}

// validateRetention checks how long the audit log is kept (the webhook outbox's retention is with the webhooks).
func (c Config) validateRetention(bad func(format string, args ...any)) {
	// PSD2 Art. 71(1): a payer may contest an unauthorised payment for 13 months; the evidence
	// must still be at hand for the dispute that follows.
	if c.AuditRetention < 13 {
		bad("SIGNET_AUDIT_RETENTION must be at least 13mo (the PSD2 window to contest a payment), got %s", c.AuditRetention)
	}
}

// Scope is what an API key may do on the private API. Scopes nest: an admin key may do
// everything a bank key may, and a bank key everything a consume key may.
type Scope int

// Scopes, least to most privileged.
const (
	// ScopeConsume: POST /v1/tokens/consume only (gateways without Redis access).
	ScopeConsume Scope = iota + 1
	// ScopeBank: the bank backend's everyday calls: users, credentials (list, block, remove),
	// operations, registration and enrollment codes, activations, evidence.
	ScopeBank
	// ScopeAdmin: operator calls on top of bank: unblock a credential, unlock a passcode,
	// read the audit log, create PowerAuth applications (master key pairs).
	ScopeAdmin
)

var scopeNames = map[Scope]string{ScopeConsume: "consume", ScopeBank: "bank", ScopeAdmin: "admin"}

// String is the scope's name in SIGNET_API_KEYS and in RFC 6750 scope attributes.
func (s Scope) String() string {
	if n, ok := scopeNames[s]; ok {
		return n
	}
	return "none"
}

// Allows reports whether a key with scope s may call a route that needs need.
func (s Scope) Allows(need Scope) bool { return need >= ScopeConsume && s >= need }

// APIKey is one credential for the private API.
type APIKey struct {
	Name   string
	Secret string
	Scope  Scope // 0 is ScopeBank, as an entry without a scope
}

// String keeps the secret out of any formatted output.
func (k APIKey) String() string { return k.Name + ":[redacted]:" + k.Scope.String() }

// LogValue keeps the secret out of logs.
func (k APIKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// ParseAPIKeys parses "name:secret[:scope],..." where scope is consume, bank or admin and
// defaults to bank (the syntax before scopes existed). Names are unique; secrets are at least
// 16 characters and may not contain ':' or ',' (so that an entry's last field is never read
// both ways: a secret ending in ":admin" would otherwise become an admin key).
func ParseAPIKeys(s string) ([]APIKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []APIKey
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		fields := strings.Split(strings.TrimSpace(part), ":")
		k := APIKey{Name: fields[0], Scope: ScopeBank}
		if len(fields) > 1 {
			k.Secret = fields[1]
		}
		if len(fields) == 3 {
			k.Scope = 0
			for sc, n := range scopeNames {
				if fields[2] == n {
					k.Scope = sc
				}
			}
		}
		switch {
		case len(fields) < 2 || k.Name == "":
			return nil, fmt.Errorf("entry %d is not name:secret[:scope]", i+1)
		case len(fields) > 3 || k.Scope == 0:
			return nil, fmt.Errorf("entry %d (%q): the scope after the secret must be consume, bank or admin, and a secret may not contain ':'", i+1, k.Name)
		case len(k.Secret) < 16:
			return nil, fmt.Errorf("secret of %q is shorter than 16 characters", k.Name)
		case seen[k.Name]:
			return nil, fmt.Errorf("name %q appears twice", k.Name)
		}
		seen[k.Name] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// WaitAOF is SIGNET_REDIS_CONSUME_WAITAOF parsed: how many AOF fsyncs a consume waits for.
type WaitAOF struct {
	Local    int // 0 or 1
	Replicas int
	Timeout  time.Duration
}

// Enabled reports whether a consume waits at all.
func (w WaitAOF) Enabled() bool { return w.Local > 0 || w.Replicas > 0 }

// DefaultWaitAOFTimeout covers appendfsync everysec: the next fsync is at most a second away.
const DefaultWaitAOFTimeout = 2 * time.Second

// ParseWaitAOF parses "local,replicas[,timeout]" ("" is no wait): local 0 or 1, replicas 0 to
// 16, not both 0, timeout from 10ms to 10s (default 2s; Redis's WAITAOF timeout 0 would wait
// forever and is not allowed).
func ParseWaitAOF(s string) (WaitAOF, error) {
	if strings.TrimSpace(s) == "" {
		return WaitAOF{}, nil
	}
	f := strings.Split(s, ",")
	w := WaitAOF{Timeout: DefaultWaitAOFTimeout}
	var err error
	if len(f) < 2 || len(f) > 3 {
		return WaitAOF{}, errors.New(`must be "local,replicas" or "local,replicas,timeout", e.g. "1,0" or "1,1,500ms"`)
	}
	if w.Local, err = strconv.Atoi(strings.TrimSpace(f[0])); err != nil || w.Local < 0 || w.Local > 1 {
		return WaitAOF{}, errors.New("local must be 0 or 1 (the primary's own AOF fsync)")
	}
	if w.Replicas, err = strconv.Atoi(strings.TrimSpace(f[1])); err != nil || w.Replicas < 0 || w.Replicas > 16 {
		return WaitAOF{}, errors.New("replicas must be between 0 and 16")
	}
	if !w.Enabled() {
		return WaitAOF{}, errors.New(`"0,0" waits for nothing; leave the variable unset instead`)
	}
	if len(f) == 3 {
		if w.Timeout, err = time.ParseDuration(strings.TrimSpace(f[2])); err != nil || w.Timeout < 10*time.Millisecond || w.Timeout > 10*time.Second {
			return WaitAOF{}, errors.New("timeout must be a duration from 10ms to 10s")
		}
	}
	return w, nil
}

// ParseKEKs parses the comma-separated base64 KEK list; each must decode to
// exactly 32 bytes (AES-256).
func ParseKEKs(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		b, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			b, err = base64.RawURLEncoding.DecodeString(part)
		}
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("key %d is not base64 of 32 bytes", i+1)
		}
		keys = append(keys, b)
	}
	return keys, nil
}

// ParseTrustedProxies parses SIGNET_TRUSTED_PROXIES: CIDRs, or single addresses (a /32 or
// /128). Every entry is checked; the errors are joined.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, v := range list {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("%q is not a CIDR or an IP address", v))
		}
	}
	return out, errors.Join(errs...)
}

// Months is a period in whole months, written "<n>y" (years) or "<n>mo".
type Months int

// UnmarshalText reads "5y", "18mo".
func (m *Months) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	unit := 0
	switch {
	case strings.HasSuffix(s, "mo"):
		s, unit = strings.TrimSuffix(s, "mo"), 1
	case strings.HasSuffix(s, "y"):
		s, unit = strings.TrimSuffix(s, "y"), 12
	}
	n, err := strconv.Atoi(s)
	if unit == 0 || err != nil || n < 1 || n > 100 {
		return fmt.Errorf("%q is not a period such as 5y or 18mo", string(b))
	}
	*m = Months(n * unit)
	return nil
}

func (m Months) String() string {
	if m%12 == 0 {
		return strconv.Itoa(int(m)/12) + "y"
	}
	return strconv.Itoa(int(m)) + "mo"
}
