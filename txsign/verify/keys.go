package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeySource finds the public key a token names by "kid". It returns ErrUnknownKey when the
// issuer has no such key and an error wrapping ErrUnavailable when it cannot tell.
type KeySource interface {
	Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error)
}

// ErrUnknownKey is returned by a KeySource for a kid the issuer does not publish.
var ErrUnknownKey = errors.New("verify: no signing key with this kid")

// StaticKeys is a fixed KeySource, for tests and for gateways that embed the issuer's keys.
// Only P-256 keys are ever returned.
type StaticKeys map[string]*ecdsa.PublicKey

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*ecdsa.PublicKey, error) {
	k := s[kid]
	if k == nil || k.Curve != elliptic.P256() {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// maxJWKSBody bounds the JWKS document read from the network.
const maxJWKSBody = 1 << 20

// ParseJWKS parses a JWK Set (RFC 7517 §5) and returns its ES256 verification keys by kid.
// A key is used only if kty is "EC", crv "P-256", alg "ES256" or absent, use "sig" or absent,
// key_ops absent or containing "verify", kid present, no private member "d", and x and y are
// 32-byte unpadded base64url coordinates of a point on the curve (RFC 7518 §6.2.1). Other keys
// (RSA, encryption keys, other curves) are skipped. A kid that appears twice is dropped:
// which key it means would be ambiguous. The document itself must be a JSON object with a
// "keys" array.
func ParseJWKS(data []byte) (map[string]*ecdsa.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("verify: JWKS is not a JSON object: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`verify: JWKS has no "keys" array`)
	}
	keys := make(map[string]*ecdsa.PublicKey)
	dup := make(map[string]bool)
	for _, raw := range set.Keys {
		kid, pub, ok := parseJWK(raw)
		if !ok {
			continue
		}
		if _, seen := keys[kid]; seen || dup[kid] {
			delete(keys, kid)
			dup[kid] = true
			continue
		}
		keys[kid] = pub
	}
	return keys, nil
}

func parseJWK(raw json.RawMessage) (string, *ecdsa.PublicKey, bool) {
	var k struct {
		Kty    string          `json:"kty"`
		Crv    string          `json:"crv"`
		Alg    *string         `json:"alg"`
		Use    *string         `json:"use"`
		KeyOps []string        `json:"key_ops"`
		Kid    string          `json:"kid"`
		X      string          `json:"x"`
		Y      string          `json:"y"`
		D      json.RawMessage `json:"d"`
	}
	if json.Unmarshal(raw, &k) != nil {
		return "", nil, false
	}
	switch {
	case k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" || k.D != nil:
		return "", nil, false
	case k.Alg != nil && *k.Alg != Algorithm:
		return "", nil, false
	case k.Use != nil && *k.Use != "sig":
		return "", nil, false
	case k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify"):
		return "", nil, false
	}
	x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	// RFC 7518 §6.2.1.2-3: coordinates are the full 32 octets, leading zeros included.
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return "", nil, false
	}
	point := make([]byte, 0, 65)
	point = append(point, 4) // SEC 1 §2.3.3 uncompressed point
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point) // rejects off-curve points
	if err != nil {
		return "", nil, false
	}
	return k.Kid, pub, true
}

// JWKS is a KeySource that fetches the issuer's JWK Set over HTTP and caches it.
//
//   - A kid found in a fresh cache is answered without I/O.
//   - An unknown kid triggers a refresh, at most once per MinRefreshInterval (default 30 s) for
//     all kids together; a kid still unknown after a refresh is remembered (negative cache)
//     and refused without a refresh for NegativeTTL (default 5 min).
//   - The cache is fresh for the response's Cache-Control max-age (clamped between the
//     minimum refresh interval and 24 h), or DefaultRefresh (default 5 min) without one; a
//     stale key is still served while a refresh fails, up to MaxStale (default 1 h) after the
//     last successful fetch. Keys removed from the set stop verifying at the next refresh.
//   - A cold cache that cannot be fetched answers ErrUnavailable (callers answer 503).
//   - Concurrent callers share one fetch (single flight); a fetch is not cancelled by the
//     caller that started it and is bounded by FetchTimeout (default 10 s).
type JWKS struct {
	url            string
	client         *http.Client
	now            func() time.Time
	minRefresh     time.Duration
	defaultRefresh time.Duration
	maxStale       time.Duration
	negativeTTL    time.Duration
	fetchTimeout   time.Duration
	allowHTTP      bool

	mu          sync.Mutex
	keys        map[string]*ecdsa.PublicKey
	fetchedAt   time.Time // last successful fetch; zero while cold
	freshUntil  time.Time
	lastAttempt time.Time
	lastErr     error
	negative    map[string]time.Time
	inflight    *flight
}

type flight struct {
	done chan struct{}
}

// JWKSOption configures NewJWKS.
type JWKSOption func(*JWKS)

// WithHTTPClient sets the client used to fetch the set (default: a client with a 10 s timeout).
func WithHTTPClient(c *http.Client) JWKSOption { return func(j *JWKS) { j.client = c } }

// WithMinRefreshInterval sets the least time between two fetches (default 30 s), which bounds
// how often tokens with unknown kids can make the gateway call the issuer.
func WithMinRefreshInterval(d time.Duration) JWKSOption {
	return func(j *JWKS) { j.minRefresh = d }
}

// WithDefaultRefresh sets how long a fetched set is fresh when the response has no
// Cache-Control max-age (default 5 min).
func WithDefaultRefresh(d time.Duration) JWKSOption {
	return func(j *JWKS) { j.defaultRefresh = d }
}

// WithMaxStale sets how long after the last successful fetch known keys are still served
// while refreshes fail (default 1 h).
func WithMaxStale(d time.Duration) JWKSOption { return func(j *JWKS) { j.maxStale = d } }

// WithNegativeTTL sets how long a kid absent from a fresh set is refused without a refresh
// (default 5 min).
func WithNegativeTTL(d time.Duration) JWKSOption { return func(j *JWKS) { j.negativeTTL = d } }

// WithFetchTimeout bounds one fetch (default 10 s).
func WithFetchTimeout(d time.Duration) JWKSOption { return func(j *JWKS) { j.fetchTimeout = d } }

// WithClock injects the clock (default time.Now).
func WithClock(now func() time.Time) JWKSOption { return func(j *JWKS) { j.now = now } }

// AllowHTTP permits a plain http:// JWKS URL on a non-loopback host. Without TLS anyone on the
// path can substitute keys; use it only inside an authenticated network (service mesh mTLS).
func AllowHTTP() JWKSOption { return func(j *JWKS) { j.allowHTTP = true } }

// maxNegative bounds the negative cache; when full it is emptied (the global refresh rate
// limit still applies).
const maxNegative = 4096

// NewJWKS returns a JWKS cache for the set at rawURL (https; http only on loopback or with
// AllowHTTP). Nothing is fetched until the first Key or Refresh call.
func NewJWKS(rawURL string, opts ...JWKSOption) (*JWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("verify: JWKS URL must be an absolute https URL")
	}
	j := &JWKS{
		url:            u.String(),
		now:            time.Now,
		minRefresh:     30 * time.Second,
		defaultRefresh: 5 * time.Minute,
		maxStale:       time.Hour,
		negativeTTL:    5 * time.Minute,
		fetchTimeout:   10 * time.Second,
		negative:       make(map[string]time.Time),
	}
	for _, o := range opts {
		o(j)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (j.allowHTTP || isLoopback(u.Hostname())):
	default:
		return nil, errors.New("verify: JWKS URL must be https (http only on loopback or with AllowHTTP)")
	}
	if j.client == nil {
		j.client = &http.Client{Timeout: j.fetchTimeout}
	}
	if j.minRefresh <= 0 || j.defaultRefresh <= 0 || j.maxStale < 0 || j.negativeTTL < 0 || j.fetchTimeout <= 0 || j.now == nil {
		return nil, errors.New("verify: JWKS intervals must be positive")
	}
	return j, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var _ KeySource = (*JWKS)(nil)

// Key implements KeySource.
func (j *JWKS) Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	fetched := false
	for {
		j.mu.Lock()
		now := j.now()
		k, known := j.keys[kid]
		if known && now.Before(j.freshUntil) {
			j.mu.Unlock()
			return k, nil
		}
		if !fetched && j.shouldFetchLocked(now, kid, known) {
			f := j.startFetchLocked(ctx, now)
			j.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			}
			fetched = true
			continue
		}
		k, err := j.answerLocked(now, kid, k, known, fetched)
		j.mu.Unlock()
		return k, err
	}
}

// Refresh fetches the set now, ignoring the refresh interval (start-up warm-up, readiness).
func (j *JWKS) Refresh(ctx context.Context) error {
	j.mu.Lock()
	f := j.startFetchLocked(ctx, j.now())
	j.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, j.lastErr)
	}
	return nil
}

// shouldFetchLocked decides whether this lookup may call the issuer.
func (j *JWKS) shouldFetchLocked(now time.Time, kid string, known bool) bool {
	if j.inflight != nil {
		return true // joining costs nothing
	}
	since := now.Sub(j.lastAttempt)
	switch {
	case j.fetchedAt.IsZero():
		// Cold: retry failures at most once a second so a dead issuer is not hammered.
		return j.lastAttempt.IsZero() || since >= min(time.Second, j.minRefresh)
	case known:
		return since >= j.minRefresh // stale
	}
	if at, ok := j.negative[kid]; ok && now.Sub(at) < j.negativeTTL {
		return false
	}
	return since >= j.minRefresh
}

func (j *JWKS) answerLocked(now time.Time, kid string, k *ecdsa.PublicKey, known, fetched bool) (*ecdsa.PublicKey, error) {
	switch {
	case known && now.Sub(j.fetchedAt) <= j.maxStale:
		return k, nil // fresh, or stale while the issuer is unreachable
	case known:
		return nil, fmt.Errorf("%w: JWKS not refreshed for %s: %v", ErrUnavailable, now.Sub(j.fetchedAt).Round(time.Second), j.lastErr)
	case j.fetchedAt.IsZero():
		return nil, fmt.Errorf("%w: JWKS never fetched: %v", ErrUnavailable, j.lastErr)
	case j.lastErr != nil:
		// The latest fetch failed: the kid may be a new key we could not see.
		return nil, fmt.Errorf("%w: JWKS refresh failed: %v", ErrUnavailable, j.lastErr)
	}
	if fetched {
		if len(j.negative) >= maxNegative {
			clear(j.negative)
		}
		j.negative[kid] = now
	}
	return nil, ErrUnknownKey
}

// startFetchLocked joins the fetch in flight or starts one. The fetch runs on a context that
// keeps ctx's values but not its cancellation, so one impatient caller cannot fail the others.
func (j *JWKS) startFetchLocked(ctx context.Context, now time.Time) *flight {
	if j.inflight != nil {
		return j.inflight
	}
	f := &flight{done: make(chan struct{})}
	j.inflight = f
	j.lastAttempt = now
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.fetchTimeout)
		defer cancel()
		keys, maxAge, err := j.fetch(fctx)
		j.mu.Lock()
		defer j.mu.Unlock()
		if err != nil {
			j.lastErr = err
		} else {
			now := j.now()
			j.keys, j.fetchedAt, j.lastErr = keys, now, nil
			fresh := j.defaultRefresh
			if maxAge >= 0 {
				fresh = min(max(maxAge, j.minRefresh), 24*time.Hour)
			}
			j.freshUntil = now.Add(fresh)
			for kid := range keys {
				delete(j.negative, kid)
			}
		}
		j.inflight = nil
		close(f.done)
	}()
	return f
}

// fetch GETs and parses the set. maxAge is the Cache-Control max-age, or -1 without one.
func (j *JWKS) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, 0, fmt.Errorf("fetching JWKS: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading JWKS: %w", err)
	}
	if len(body) > maxJWKSBody {
		return nil, 0, errors.New("JWKS larger than 1 MiB")
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, cacheMaxAge(resp.Header.Values("Cache-Control")), nil
}

// cacheMaxAge returns the max-age of Cache-Control (RFC 9111 §5.2.2.1), 0 for no-cache or
// no-store, and -1 when there is none.
func cacheMaxAge(values []string) time.Duration {
	age := time.Duration(-1)
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err == nil && n >= 0 && n < 1<<31 {
					age = time.Duration(n) * time.Second
				}
			}
		}
	}
	return age
}
