package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/ratelimit/redislimit"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// metricValue reads one counter from reg; 0 when it has not been counted.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func randomCode() string {
	b := make([]byte, 15)
	rand.Read(b)
	s := base32.StdEncoding.EncodeToString(b) // 24 chars of A-Z2-7
	return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20]
}

func randomLinkToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestRequestsNamingNothingRealAreCountedNotAudited: a flood of random ids on the three
// public writes that used to append one audit row each appends none, and each refusal is
// counted by route and reason. Positive control: a real registration code with a wrong
// secret is still audited.
func TestRequestsNamingNothingRealAreCountedNotAudited(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := jwkOf(&key.PublicKey)
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 70))
	const n = 20
	for _, c := range []struct {
		name, route, reason string
		send                func() response
		status              int
	}{
		// With the capability of an id no operation has (only Signet can mint one), the request gets as far as
		// the operation's lookup; without it the capability check refuses it first (TestOperationIDAloneGrantsNothing).
		{"random operation id", "/v1/operations/:id/approve", "unknown_operation", func() response {
			id := uuid.NewString()
			return h.do("POST", "/v1/operations/"+id+"/approve", h.capAuth(id),
				map[string]any{"credential_id": uuid.NewString(), "signature": sig})
		}, 404},
		{"random operation id, reject", "/v1/operations/:id/reject", "unknown_operation", func() response {
			id := uuid.NewString()
			return h.do("POST", "/v1/operations/"+id+"/reject", h.capAuth(id),
				map[string]any{"credential_id": uuid.NewString(), "signature": sig})
		}, 404},
		{"random registration code", "/v1/devices", "unknown_registration_code", func() response {
			return h.do("POST", "/v1/devices", "-", map[string]any{"registration_code": randomCode(), "public_key": jwk})
		}, 401},
		{"malformed registration code", "/v1/devices", "unknown_registration_code", func() response {
			return h.do("POST", "/v1/devices", "-", map[string]any{"registration_code": "nonsense", "public_key": jwk})
		}, 401},
		{"random enrollment token", "/v1/web/enrollment/session", "unknown_enrollment_token", func() response {
			return h.do("POST", "/v1/web/enrollment/session", "-", map[string]any{"token": randomLinkToken()})
		}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows := h.auditCount()
			labels := map[string]string{"route": c.route, "reason": c.reason}
			before := metricValue(t, h.reg, "signet_unrecorded_refusals_total", labels)
			for range n {
				if r := c.send(); r.status != c.status {
					t.Fatalf("status %d %s; want %d", r.status, r.body, c.status)
				}
			}
			if got := h.auditCount() - rows; got != 0 {
				t.Errorf("%d random requests appended %d audit rows; want 0", n, got)
			}
			if got := metricValue(t, h.reg, "signet_unrecorded_refusals_total", labels) - before; got != n {
				t.Errorf("signet_unrecorded_refusals_total%v rose by %v; want %d", labels, got, n)
			}
		})
	}
	t.Run("positive control: a real code with a wrong secret is audited", func(t *testing.T) {
		uid := h.createUser("cust-unrecorded")
		code := h.registrationCode(uid)
		wrong := code[:10] + flipChar(code[10]) + code[11:]
		rows := h.auditCount()
		if r := h.do("POST", "/v1/devices", "-", map[string]any{"registration_code": wrong, "public_key": jwk}); r.status != 401 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got := h.auditCount() - rows; got != 1 {
			t.Fatalf("wrong secret on a real code appended %d audit rows; want 1", got)
		}
	})
}

// memLimits are small limits for the tests.
var memLimits = server.RateLimits{
	Address:   ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 5},
	JWKS:      ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 3},
	Operation: ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 4},
	Code:      ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 2},
}

func withProxies(l server.RateLimits, cidrs ...string) server.RateLimits {
	for _, c := range cidrs {
		l.TrustedProxies = append(l.TrustedProxies, netip.MustParsePrefix(c))
	}
	return l
}

// from sends a public request as if it came through a proxy for client xff ("" sends no header).
func (h *harness) from(method, path, xff string, body any) response {
	h.t.Helper()
	return h.fromWith(method, path, xff, "-", body)
}

// fromWith is from with an Authorization header ("-": none).
func (h *harness) fromWith(method, path, xff, auth string, body any) response {
	h.t.Helper()
	req := buildRequest(method, path, auth, "", body)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", h.addr
	resp, err := testClient.Do(req)
	return readResponse(h.t, resp, err)
}

func assertLimited(t *testing.T, r response, limit string) {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d %s; want 429", r.status, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Errorf("Retry-After %q; want whole seconds ≥ 1", r.header.Get("Retry-After"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" && limit != "pa" {
		t.Errorf("Content-Type %q; want application/problem+json", ct)
	}
	if limit != "pa" && r.json(t)["code"] != "too_many_requests" {
		t.Errorf("body %s; want the too_many_requests problem", r.body)
	}
}

// TestBurstFromOneAddressIsLimited: after the burst, one client address gets 429 with
// Retry-After and a problem body on every public route family, while another address
// still passes. The private API is not limited.
func TestBurstFromOneAddressIsLimited(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{limiter: ratelimit.NewMemory(0, nil), limits: withProxies(memLimits, "127.0.0.1/32")})
	limited := func(r response) bool { return r.status == 429 }
	signingData := func() string {
		return "/v1/operations/" + uuid.NewString() + "/signing-data?credential_id=" + uuid.NewString()
	}
	fixed := func(p string) func() string { return func() string { return p } }
	// Every public family shares one budget per address (the JWKS has its own), so each
	// case uses an attacker address of its own.
	for i, c := range []struct {
		name, method string
		path         func() string
		body         any
		burst        int
		kind         string
	}{
		{"device API", "GET", signingData, nil, 5, "problem"},
		{"browser API", "GET", fixed("/v1/web/passcode-key"), nil, 5, "problem"},
		{"hosted pages", "GET", fixed("/web/enroll"), nil, 5, "problem"},
		{"PowerAuth", "POST", fixed("/pa/v3/activation/status"), map[string]any{}, 5, "pa"},
		{"PowerAuth server status (public, unsigned)", "POST", fixed("/pa/v3/status"), map[string]any{}, 5, "pa"},
		{"JWKS", "GET", fixed("/.well-known/jwks.json"), nil, 3, "problem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			attacker, other := "203.0.113."+strconv.Itoa(i+1), "203.0.114."+strconv.Itoa(i+1)
			for j := range c.burst {
				if r := h.from(c.method, c.path(), attacker, c.body); limited(r) {
					t.Fatalf("request %d within the burst refused: %s", j+1, r.body)
				}
			}
			r := h.from(c.method, c.path(), attacker, c.body)
			assertLimited(t, r, c.kind)
			if c.kind == "pa" {
				if env := r.json(t); env["status"] != "ERROR" {
					t.Errorf("PowerAuth 429 body %s; want PowerAuth's error envelope", r.body)
				}
			}
			if r := h.from(c.method, c.path(), other, c.body); limited(r) {
				t.Errorf("another address refused: %s", r.body)
			}
		})
	}
	t.Run("the private API is not limited", func(t *testing.T) {
		for range 20 {
			if r := h.do("GET", "/v1/users?external_id=nobody", "", nil); r.status == 429 {
				t.Fatal("private API rate limited")
			}
		}
	})
}

// TestPerTargetLimits: one operation, one registration code and one enrollment link each
// have their own budget whatever the address; another target still passes.
func TestPerTargetLimits(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{limiter: ratelimit.NewMemory(0, nil), limits: withProxies(memLimits, "127.0.0.1/32")})
	addr := 0
	next := func() string { addr++; return "198.51.100." + strconv.Itoa(addr) } // never the address limit
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 70))
	op := uuid.NewString()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	code, token := randomCode(), randomLinkToken()
	for _, c := range []struct {
		name       string
		burst      int
		send, safe func() response
	}{
		{"operation", 4, func() response {
			return h.fromWith("POST", "/v1/operations/"+op+"/approve", next(), h.capAuth(op), map[string]any{"credential_id": uuid.NewString(), "signature": sig})
		}, func() response {
			other := uuid.NewString()
			return h.fromWith("POST", "/v1/operations/"+other+"/approve", next(), h.capAuth(other), map[string]any{"credential_id": uuid.NewString(), "signature": sig})
		}},
		{"registration code", 2, func() response {
			return h.from("POST", "/v1/devices", next(), map[string]any{"registration_code": code, "public_key": jwkOf(&key.PublicKey)})
		}, func() response {
			return h.from("POST", "/v1/devices", next(), map[string]any{"registration_code": randomCode(), "public_key": jwkOf(&key.PublicKey)})
		}},
		{"enrollment link", 2, func() response {
			return h.from("POST", "/v1/web/enrollment/session", next(), map[string]any{"token": token})
		}, func() response {
			return h.from("POST", "/v1/web/enrollment/session", next(), map[string]any{"token": randomLinkToken()})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.burst {
				if r := c.send(); r.status == 429 {
					t.Fatalf("request %d within the burst refused", i+1)
				}
			}
			assertLimited(t, c.send(), "problem")
			if r := c.safe(); r.status == 429 {
				t.Errorf("another target refused: %s", r.body)
			}
		})
	}
	if got := metricValue(t, h.reg, "signet_rate_limited_total", map[string]string{"limit": "operation"}); got != 1 {
		t.Errorf("signet_rate_limited_total{limit=operation} = %v; want 1", got)
	}
}

// TestForwardedForOnlyFromTrustedProxies: X-Forwarded-For decides the client address only
// when the peer is a trusted proxy; otherwise every forged value shares the peer's budget.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	for _, c := range []struct {
		name      string
		proxies   []string
		separated bool // whether two forwarded addresses get separate budgets
	}{
		{"no trusted proxies: header ignored", nil, false},
		{"peer is not a trusted proxy: header ignored", []string{"10.0.0.0/8"}, false},
		{"peer is a trusted proxy: header believed", []string{"127.0.0.0/8"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarnessWith(t, harnessOpts{limiter: ratelimit.NewMemory(0, nil), limits: withProxies(memLimits, c.proxies...)})
			for i := range 5 {
				// A forger rotates the leftmost entry; a proxy would append the real address.
				if r := h.from("GET", "/v1/web/passcode-key", "192.0.2."+strconv.Itoa(i+1), nil); r.status == 429 {
					t.Fatalf("request %d within the burst refused", i+1)
				}
			}
			r := h.from("GET", "/v1/web/passcode-key", "192.0.2.200", nil)
			if c.separated && r.status == 429 {
				t.Errorf("a fresh forwarded address behind a trusted proxy refused")
			}
			if !c.separated {
				assertLimited(t, r, "problem")
			}
		})
	}
}

// TestDistinctPeersHaveDistinctBudgets is the positive control without any header: two TCP
// peers (127.0.0.1 and 127.0.0.2) are two addresses.
func TestDistinctPeersHaveDistinctBudgets(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{limiter: ratelimit.NewMemory(0, nil), limits: memLimits})
	client := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	get := func(c *http.Client) int {
		resp, err := c.Get("http://" + h.addr + "/v1/web/passcode-key")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	one, two := client("127.0.0.1"), client("127.0.0.2")
	for range 5 {
		get(one)
	}
	if s := get(one); s != 429 {
		t.Fatalf("6th request from 127.0.0.1: %d; want 429", s)
	}
	if s := get(two); s == 429 {
		t.Fatal("127.0.0.2 refused")
	}
}

// TestPerTargetLimitSharedAcrossReplicas: two servers on one Redis (SIGNET_TEST_REDIS_URL)
// share one budget per operation.
func TestPerTargetLimitSharedAcrossReplicas(t *testing.T) {
	u := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	prefix := "signet-test:" + uuid.NewString() + ":"
	replica := func() *harness {
		c, err := redisreplay.NewClient(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			replaytest.ServiceUnreachable(t, replaytest.EnvRedisURL, err)
		}
		lim := ratelimit.Fallback{Primary: redislimit.New(c, prefix, time.Second), Secondary: ratelimit.NewMemory(0, nil),
			OnError: func(err error) { t.Errorf("Redis limiter failed: %v", err) }}
		return newHarnessWith(t, harnessOpts{limiter: lim, limits: withProxies(memLimits, "127.0.0.1/32")})
	}
	a, b := replica(), replica()
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 70))
	op := uuid.NewString()
	addr := 0
	approve := func(h *harness, op string) response {
		addr++
		return h.fromWith("POST", "/v1/operations/"+op+"/approve", "198.51.100."+strconv.Itoa(addr), h.capAuth(op),
			map[string]any{"credential_id": uuid.NewString(), "signature": sig})
	}
	for i := range 4 { // the burst, alternating replicas
		h := a
		if i%2 == 1 {
			h = b
		}
		if r := approve(h, op); r.status == 429 {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	assertLimited(t, approve(a, op), "problem")
	assertLimited(t, approve(b, op), "problem")
	if r := approve(b, uuid.NewString()); r.status == 429 {
		t.Error("another operation refused")
	}
}

// TestRedisDownDegradesToLocalLimits: with Redis unreachable, public endpoints — PowerAuth
// status checks among them — keep answering (no 503), and each replica still enforces the
// limits on its own.
func TestRedisDownDegradesToLocalLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	var failures int
	lim := ratelimit.Fallback{Primary: redislimit.New(c, "", 200*time.Millisecond), Secondary: ratelimit.NewMemory(0, nil),
		OnError: func(error) { failures++ }}
	h := newHarnessWith(t, harnessOpts{limiter: lim, limits: memLimits})
	for i := range 5 {
		r := h.from("POST", "/pa/v3/activation/status", "", map[string]any{})
		if r.status == 503 || r.status == 429 {
			t.Fatalf("PowerAuth status check %d with Redis down: %d %s", i+1, r.status, r.body)
		}
	}
	assertLimited(t, h.from("POST", "/pa/v3/activation/status", "", map[string]any{}), "pa")
	if failures == 0 {
		t.Error("the Redis failures were not reported")
	}
}
