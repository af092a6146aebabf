package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/gateway/demopay"
	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

const apiSecret = "gateway-test-secret-0123456789"

// tcpProxy forwards to a Redis; closing it is Redis going away for the gateway.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// env is Signet (real store, real HTTP server), Redis, the demo payment API and the gateway.
type env struct {
	t        *testing.T
	stack    *signettest.Stack
	signet   string // base URL
	payments *demopay.Server
	gw       string // base URL
	gateway  *gateway.Gateway
	proxy    *tcpProxy
	stop     func() // stops Redis (as the gateway sees it)
	user     store.User
	device   signettest.Device
	upstream atomic.Int64
	inspect  atomic.Pointer[chan http.Header] // when set, receives the next upstream request's headers
	opts     []gateway.Option                 // New's options, set by newEnv's mutate
}

type backend struct {
	name      string
	postgres  bool
	realRedis bool
}

var backends = []backend{{"sqlite+miniredis", false, false}, {"postgres+redis", true, true}}

func newEnv(t *testing.T, b backend, mutate func(*gateway.Config, *env)) *env {
	t.Helper()
	e := &env{t: t}
	var redisURL, prefix string
	if b.realRedis {
		redisURL = replaytest.ServiceURL(t, replaytest.EnvRedisURL)
		prefix = "signet-test:" + replaytest.JTI(t) + ":"
	} else {
		mr := miniredis.RunT(t)
		redisURL, prefix = "redis://"+mr.Addr()+"/0", "signet:jti:"
		e.stop = mr.Close
	}
	client, err := redisreplay.NewClient(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		replaytest.ServiceUnreachable(t, replaytest.EnvRedisURL, err)
	}
	e.stack = signettest.New(t, signettest.Options{Postgres: b.postgres, Replay: redisreplay.New(client, prefix)})
	// A consume-only key: all a gateway needs, and all it gets.
	srv := server.New(server.Deps{APIKeys: []config.APIKey{{Name: "gateway", Secret: apiSecret, Scope: config.ScopeConsume}}, Operations: e.stack.Ops},
		server.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	e.signet = "http://" + ln.Addr().String()

	e.payments = demopay.New()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.upstream.Add(1)
		if ch := e.inspect.Load(); ch != nil {
			select {
			case *ch <- r.Header.Clone():
			default:
			}
		}
		// /device/payments is the demo API's /payments behind a route with other settings.
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/device")
		e.payments.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)

	u, _ := url.Parse(redisURL)
	e.proxy = newTCPProxy(t, u.Host)
	stopMini := e.stop
	e.stop = func() {
		e.proxy.Close()
		if stopMini != nil {
			stopMini()
		}
	}
	u.Host = e.proxy.ln.Addr().String()
	yes := true
	cfg := &gateway.Config{
		Upstream: up.URL, JWKSURL: e.signet + "/.well-known/jwks.json", Issuer: signettest.Issuer, Audience: signettest.Audience,
		Consume: gateway.ConsumeConfig{RedisURL: u.String(), RedisPrefix: prefix},
		Routes: []gateway.Route{
			{Method: "POST", Path: "/payments", RequireToken: &yes,
				Binding: &gateway.Binding{Amount: "/amount", Currency: "/currency", PayeeAccount: "/creditor_account"}},
			{Method: "GET", Path: "/payments", RequireToken: new(bool)},
		},
	}
	if mutate != nil {
		mutate(cfg, e)
	}
	raw, err := yaml.Marshal(cfg) // through the parser, as `signet gateway` reads its file
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gateway.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	e.gateway, err = gateway.New(parsed, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.gateway.Close() })
	gs := httptest.NewServer(e.gateway.Handler())
	t.Cleanup(gs.Close)
	e.gw = gs.URL
	e.user = e.stack.User("cust-" + uuid.NewString()[:8])
	e.device = e.stack.DeviceKey(e.user.ID)
	return e
}

// approve creates a payment and approves it with two factors, as a PowerAuth possession +
// knowledge signature does (amr swk, pin: SCA); it returns the token.
func (e *env) approve(amount string) (store.Operation, string) {
	e.t.Helper()
	op := e.stack.Payment(e.user.ID, amount, "EUR")
	sig := signettest.Sign(e.device.Key, op.DL)
	res, err := e.stack.Ops.Decide(context.Background(), txsign.Attempt{OperationID: op.ID, CredentialID: e.device.CredentialID,
		Decision: txsign.Approve, Actor: "device",
		Verify: func(op store.Operation, c store.Credential) (txsign.Evidence, error) {
			ev, err := txsign.VerifyDeviceSignature(sig, txsign.Approve)(op, c)
			ev.AMR = []string{"swk", "pin"}
			return ev, err
		}})
	if err != nil {
		e.t.Fatalf("approve %s: %v", op.ID, err)
	}
	return op, res.Token
}

// approveWithDeviceKey approves a payment with the device key alone (amr hwk: one factor).
func (e *env) approveWithDeviceKey(amount string) (store.Operation, string) {
	e.t.Helper()
	op := e.stack.Payment(e.user.ID, amount, "EUR")
	return op, e.stack.Approve(op, e.device)
}

type payResult struct {
	status int
	body   map[string]any
}

func (e *env) pay(token, via string, body string, headers map[string]string) payResult {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.gw+"/payments", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	switch via {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+token)
	case "txn":
		req.Header.Set("Txn-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &m)
	return payResult{status: resp.StatusCode, body: m}
}

func body(amount string) string {
	return `{"amount":"` + amount + `","currency":"EUR","creditor_account":"DE89 3704 0044 0532 0130 00"}`
}

func TestGatewayEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b, nil)
			op100, tok100 := e.approve("100")
			_, tokPayee := e.approve("7")
			_, tokDup := e.approve("8")
			opTxn, tokTxn := e.approve("9.5")
			forged := strings.Join(append(strings.Split(tok100, ".")[:2], strings.Split(tokTxn, ".")[2]), ".")
			const acct = "DE89 3704 0044 0532 0130 00"
			steps := []struct {
				name     string
				token    string
				via      string
				body     string
				headers  map[string]string
				status   int
				upstream int64
				check    func(t *testing.T, r payResult)
			}{
				{name: "no token", body: body("100"), status: 401},
				{name: "malformed token", token: "not.a.token", via: "bearer", body: body("100"), status: 401},
				{name: "forged signature", token: forged, via: "bearer", body: body("100"), status: 401},
				{name: "amount altered in the body", token: tok100, via: "bearer", body: body("100.01"), status: 403},
				{name: "payee altered", token: tokPayee, via: "bearer",
					body: `{"amount":"7","currency":"EUR","creditor_account":"GB82WEST12345698765432"}`, status: 403},
				{name: "currency altered", token: tokPayee, via: "bearer",
					body: `{"amount":"7","currency":"USD","creditor_account":"` + acct + `"}`, status: 403},
				{name: "amount given twice (parser differential)", token: tokDup, via: "bearer",
					body: `{"amount":"8.00","Amount":"8000","currency":"EUR","creditor_account":"` + acct + `"}`, status: 400},
				{name: "approve, pay: the upstream sees it once, with the verified identity", token: tok100, via: "bearer",
					body: body("100.00"), headers: map[string]string{"Signet-Operation": "spoofed", "Signet-Subject": "mallory"},
					status: 201, upstream: 1, check: func(t *testing.T, r payResult) {
						p := e.payments.Payments()
						last := p[len(p)-1]
						if last.Operation != op100.ID || last.Subject != e.user.ExternalID || last.Amount != "100.00" {
							t.Fatalf("upstream saw %+v", last)
						}
					}},
				{name: "same token again", token: tok100, via: "bearer", body: body("100.00"), status: 409},
				{name: "tampering did not burn the token", token: tokPayee, via: "bearer", body: body("7"), status: 201, upstream: 1},
				{name: "Txn-Token header, decimal-equal amount", token: tokTxn, via: "txn", body: body("9.50000"),
					headers: map[string]string{"Authorization": "Bearer upstream-oauth-token"}, status: 201, upstream: 1,
					check: func(t *testing.T, r payResult) {
						p := e.payments.Payments()
						if last := p[len(p)-1]; last.Operation != opTxn.ID {
							t.Fatalf("upstream saw %+v", last)
						}
					}},
			}
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) {
					before := e.upstream.Load()
					r := e.pay(st.token, st.via, st.body, st.headers)
					if r.status != st.status {
						t.Fatalf("status %d, want %d: %v", r.status, st.status, r.body)
					}
					if got := e.upstream.Load() - before; got != st.upstream {
						t.Fatalf("upstream called %d times, want %d", got, st.upstream)
					}
					if st.status >= 400 && (r.body["code"] == nil || r.body["status"] != float64(st.status)) {
						t.Fatalf("not a problem document: %v", r.body)
					}
					if st.check != nil {
						st.check(t, r)
					}
				})
			}
			t.Run("unmatched route is denied", func(t *testing.T) {
				resp, err := http.Get(e.gw + "/admin")
				if err != nil || resp.StatusCode != 404 {
					t.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
			})
			t.Run("open route needs no token, and cannot be turned into a guarded one", func(t *testing.T) {
				seen := make(chan http.Header, 1)
				e.inspect.Store(&seen)
				defer e.inspect.Store(nil)
				req, _ := http.NewRequest("GET", e.gw+"/payments", nil)
				req.Header.Set("X-HTTP-Method-Override", "POST")
				req.Header.Set("Signet-Operation", "spoofed")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
				h := <-seen
				if h.Get("X-Http-Method-Override") != "" || h.Get("Signet-Operation") != "" {
					t.Fatalf("upstream saw %v", h)
				}
			})
			t.Run("Redis stopped fails closed", func(t *testing.T) {
				_, tok := e.approve("11")
				if st, body := readiness(t, e.gw+"/readyz"); st != 200 || body.Status != "ok" || body.Checks["jwks"] != "ok" || body.Checks["replay"] != "ok" {
					t.Fatalf("readyz %d %+v before the stop", st, body)
				}
				e.stop()
				before := e.upstream.Load()
				if r := e.pay(tok, "bearer", body("11"), nil); r.status != 503 {
					t.Fatalf("status %d, want 503: %v", r.status, r.body)
				}
				if e.upstream.Load() != before {
					t.Fatal("the upstream was called without a consumed token")
				}
				if st, body := readiness(t, e.gw+"/readyz"); st != 503 || body.Status != "unavailable" || body.Checks["replay"] != "unavailable" {
					t.Fatalf("readyz %d %+v with Redis stopped", st, body)
				}
			})
			t.Run("metrics", func(t *testing.T) {
				resp, err := http.Get(e.gw + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				for _, want := range []string{`outcome="proxied"`, `outcome="binding_mismatch"`, `outcome="replayed"`,
					`outcome="no_token"`, `outcome="invalid_token"`, `outcome="unavailable"`, `outcome="bad_request"`,
					`signet_gateway_request_duration_seconds_bucket{route="POST /payments",le="0.001"}`,
					`signet_gateway_stage_duration_seconds_count{route="POST /payments",stage="verify"}`,
					`signet_gateway_stage_duration_seconds_count{route="POST /payments",stage="consume"}`,
					`signet_gateway_stage_duration_seconds_count{route="POST /payments",stage="upstream"}`} {
					if !bytes.Contains(raw, []byte(want)) {
						t.Errorf("metrics lack %s", want)
					}
				}
			})
		})
	}
}

// TestKeyRotationDuringRequests: the signing key rotates while payments flow; no request fails
// for it, because the next key was published before it signs and the old one stays published.
func TestKeyRotationDuringRequests(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b, nil)
			if _, tok := e.approve("1"); e.pay(tok, "bearer", body("1"), nil).status != 201 { // warms the gateway's JWKS
				t.Fatal("first payment failed")
			}
			const workers, each = 4, 10
			var ok, failed atomic.Int64
			kids := sync.Map{}
			rotated := make(chan string, 1)
			// The key rotates once a third of the payments went through: the workers say when,
			// or that they all ended without getting there.
			third, ended := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						amount := "1" + strings.Repeat("0", w) + "." + string(rune('1'+i%9))
						_, tok := e.approve(amount)
						hdr, _ := jsonSegment(tok)
						kids.Store(hdr["kid"], true)
						if r := e.pay(tok, "bearer", body(amount), nil); r.status == 201 {
							if ok.Add(1) == workers*each/3 {
								close(third)
							}
						} else {
							failed.Add(1)
							t.Errorf("payment %s failed: %d %v", amount, r.status, r.body)
						}
					}
				}()
			}
			go func() { wg.Wait(); close(ended) }()
			select {
			case <-third:
			case <-ended:
				t.Fatalf("the payments ended with %d of %d through before the rotation", ok.Load(), workers*each)
			}
			id, err := e.stack.Keyring.Rotate(context.Background())
			if err != nil || id == "" {
				t.Fatalf("rotate: %q %v", id, err)
			}
			rotated <- id
			wg.Wait()
			if ok.Load() != workers*each {
				t.Fatalf("%d of %d payments went through", ok.Load(), workers*each)
			}
			if _, signed := kids.Load(<-rotated); !signed {
				t.Fatal("no token was signed by the promoted key")
			}
		})
	}
}

func jsonSegment(token string) (map[string]any, error) {
	seg := strings.Split(token, ".")[0]
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

// TestConsumeThroughSignet: a gateway without Redis access burns tokens through Signet's
// POST /v1/tokens/consume, with the same outcomes, and fails closed when Signet refuses it.
func TestConsumeThroughSignet(t *testing.T) {
	b := backends[0]
	viaSignet := func(apiKey string, inFile bool) func(*gateway.Config, *env) {
		return func(c *gateway.Config, e *env) {
			c.Consume = gateway.ConsumeConfig{SignetURL: e.signet, APIKey: apiKey}
			if inFile { // as a secrets mount or `echo key > file` leaves it: with a newline
				c.Consume.APIKey, c.Consume.APIKeyFile = "", filepath.Join(t.TempDir(), "signet-api-key")
				if err := os.WriteFile(c.Consume.APIKeyFile, []byte(apiKey+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tests := []struct {
		name   string
		key    string
		inFile bool
		first  int // status of the first payment
		again  int // status of the same token again
	}{
		{name: "wrong API key fails closed", key: "not-the-key-0123456789", first: 503, again: 503},
		{name: "API key as Bearer", key: apiSecret, first: 201, again: 409},
		{name: "API key as Basic name:secret", key: "gateway:" + apiSecret, first: 201, again: 409},
		{name: "SIGNET_API_KEYS entry name:secret:scope", key: "gateway:" + apiSecret + ":consume", first: 201, again: 409},
		{name: "API key file, its newline trimmed", key: "gateway:" + apiSecret, inFile: true, first: 201, again: 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, b, viaSignet(tt.key, tt.inFile))
			_, tok := e.approve("12")
			if r := e.pay(tok, "bearer", body("12"), nil); r.status != tt.first {
				t.Fatalf("first: %d %v", r.status, r.body)
			}
			if r := e.pay(tok, "bearer", body("12"), nil); r.status != tt.again {
				t.Fatalf("again: %d %v", r.status, r.body)
			}
			if r := e.pay(tok, "bearer", body("13"), nil); r.status != 403 {
				t.Fatalf("binding is still checked before consuming: %d %v", r.status, r.body)
			}
		})
	}
}

// TestAPIKeyFileUnreadable: a gateway whose consume.api_key_file cannot be read does not start
// (it could consume nothing), and says which setting and why.
func TestAPIKeyFileUnreadable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "signet-api-key")
	c, err := gateway.Parse([]byte("upstream: http://127.0.0.1:1\njwks_url: http://127.0.0.1:1/.well-known/jwks.json\nissuer: i\naudience: a\n" +
		"consume: {signet_url: 'http://127.0.0.1:1', api_key_file: '" + missing + "'}\nroutes: [{path: /x, unbound: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(c)
	if err == nil {
		g.Close()
		t.Fatal("started without its API key")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "gateway: consume.api_key_file: open "+missing) {
		t.Fatalf("refusal %q does not name the setting and the cause", err)
	}
}

// TestGracefulShutdown: a request in flight when the gateway is told to stop completes.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, backends[0], func(c *gateway.Config, e *env) { c.ShutdownTimeout = gateway.Duration(5 * time.Second) })
	// The upstream holds the request until the gateway has begun to shut down (it closed its
	// listener): the request is in flight at the upstream for the whole shutdown.
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		e.payments.Handler().ServeHTTP(w, r)
	}))
	defer slow.Close()
	cfg := gateway.Config{Upstream: slow.URL, JWKSURL: e.signet + "/.well-known/jwks.json", Issuer: signettest.Issuer,
		Audience: signettest.Audience, Consume: gateway.ConsumeConfig{SignetURL: e.signet, APIKey: apiSecret},
		Routes: []gateway.Route{{Method: "POST", Path: "/payments",
			Binding: &gateway.Binding{Amount: "/amount", Currency: "/currency", PayeeAccount: "/creditor_account"}}}}
	raw, _ := yaml.Marshal(cfg)
	parsed, err := gateway.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	inner, _ := net.Listen("tcp", "127.0.0.1:0")
	ln := &closeSignal{Listener: inner, closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, nil) }()
	_, tok := e.approve("14")
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/payments", strings.NewReader(body("14")))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived
	cancel()
	<-ln.closed // shutdown has begun
	close(release)
	if st := <-done; st != 201 {
		t.Fatalf("in-flight request: %d", st)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// closeSignal is a listener that says when the server closed it.
type closeSignal struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignal) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// cgiUpstream is a real CGI upstream (RFC 3875) that answers with its environment: the view of
// the request's headers a CGI, WSGI or Rack application has (HTTP_SIGNET_SUBJECT for both
// Signet-Subject and Signet_Subject).
func cgiUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh for the CGI upstream")
	}
	s := httptest.NewServer(&cgi.Handler{Path: sh, Args: []string{"-c", `printf 'Status: 201 Created\r\nContent-Type: text/plain\r\n\r\n'; env`}})
	t.Cleanup(s.Close)
	return s
}

// cgiHeaders returns the HTTP_SIGNET_* and HTTP_IDEMPOTENCY_KEY variables the CGI upstream saw.
func cgiHeaders(t *testing.T, resp *http.Response) (map[string]string, string) {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	vars := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if strings.HasPrefix(k, "HTTP_SIGNET") || strings.HasPrefix(k, "HTTP_IDEMPOTENCY") {
			vars[k] = v
		}
	}
	return vars, string(raw)
}

// TestIdentityHeadersAtACGIUpstream: issue 13 §3 and §9. Spellings of the gateway's identity
// headers with underscores and in any case never reach an upstream that reads headers CGI-style;
// the genuine ones the gateway sets do, and the operation id arrives as Idempotency-Key in place
// of the client's.
func TestIdentityHeadersAtACGIUpstream(t *testing.T) {
	up := cgiUpstream(t)
	e := newEnv(t, backends[0], func(c *gateway.Config, e *env) {
		c.Upstream = up.URL
		c.Routes = append(c.Routes, gateway.Route{Method: "GET", Path: "/open", RequireToken: new(bool)})
	})
	spoofs := map[string]string{
		"Signet_Subject": "mallory-1", "signet_operation": "spoofed-op-2", "SIGNET_SUBJECT": "mallory-3",
		"sIgNeT-sUbJeCt": "mallory-4", "Signet_Extra": "spoofed-5", "signet-operation": "spoofed-op-6",
		"Idempotency-Key": "client-key-7", "idempotency_key": "client-key-8",
	}
	send := func(method, path, token, body string) *http.Response {
		req, _ := http.NewRequest(method, e.gw+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range spoofs {
			req.Header[k] = append(req.Header[k], v) // the spelling as sent, not canonicalised
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	noSpoof := func(t *testing.T, raw string) {
		for _, v := range spoofs {
			if strings.HasPrefix(v, "client-key") {
				continue
			}
			if strings.Contains(raw, v) {
				t.Errorf("the upstream saw the client's %q", v)
			}
		}
	}
	t.Run("guarded route: only the gateway's identity arrives", func(t *testing.T) {
		op, tok := e.approve("15")
		resp := send("POST", "/payments", tok, body("15"))
		if resp.StatusCode != 201 {
			raw, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
		vars, raw := cgiHeaders(t, resp)
		want := map[string]string{"HTTP_SIGNET_SUBJECT": e.user.ExternalID, "HTTP_SIGNET_OPERATION": op.ID,
			"HTTP_IDEMPOTENCY_KEY": op.ID}
		if !maps.Equal(vars, want) {
			t.Fatalf("upstream saw %v, want %v", vars, want)
		}
		noSpoof(t, raw)
		if strings.Contains(raw, "client-key") {
			t.Error("the client's Idempotency-Key reached the upstream")
		}
	})
	t.Run("open route: no identity header at all", func(t *testing.T) {
		resp := send("GET", "/open", "", "")
		if resp.StatusCode != 201 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		vars, raw := cgiHeaders(t, resp)
		for k := range vars {
			if strings.HasPrefix(k, "HTTP_SIGNET") {
				t.Errorf("upstream saw %s=%s", k, vars[k])
			}
		}
		noSpoof(t, raw)
	})
}

// TestIdempotencyKeyIsTheOperation: issue 13 §9, as a Go upstream sees it.
func TestIdempotencyKeyIsTheOperation(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	seen := make(chan http.Header, 1)
	e.inspect.Store(&seen)
	op, tok := e.approve("16")
	if r := e.pay(tok, "bearer", body("16"), map[string]string{"Idempotency-Key": "client-chosen"}); r.status != 201 {
		t.Fatalf("status %d %v", r.status, r.body)
	}
	h := <-seen
	if got := h.Values("Idempotency-Key"); len(got) != 1 || got[0] != op.ID {
		t.Fatalf("upstream saw Idempotency-Key %q, want [%s]", got, op.ID)
	}
}

// TestTokenStopsAtTheGateway: the upstream never gets the transaction token, in whichever header
// it came; an Authorization header beside a Txn-Token is the client's credential for the upstream
// and goes through.
func TestTokenStopsAtTheGateway(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	seen := make(chan http.Header, 1)
	e.inspect.Store(&seen)
	_, tok := e.approve("22")
	if r := e.pay(tok, "txn", body("22"), map[string]string{"Authorization": "Bearer upstream-oauth-token"}); r.status != 201 {
		t.Fatalf("status %d %v", r.status, r.body)
	}
	if h := <-seen; h.Get("Txn-Token") != "" || h.Get("Authorization") != "Bearer upstream-oauth-token" {
		t.Fatalf("sent in Txn-Token, the upstream saw a Txn-Token: %t, Authorization %.20q", h.Get("Txn-Token") != "", h.Get("Authorization"))
	}
	_, tok = e.approve("23")
	if r := e.pay(tok, "bearer", body("23"), nil); r.status != 201 {
		t.Fatalf("status %d %v", r.status, r.body)
	}
	if h := <-seen; h.Get("Txn-Token") != "" || h.Get("Authorization") != "" {
		t.Fatalf("sent as a bearer token, the upstream saw a Txn-Token: %t, Authorization %.20q", h.Get("Txn-Token") != "", h.Get("Authorization"))
	}
}

// TestSingleFactorDoesNotPay: issue 13 §4. A payment route needs SCA unless the bank says
// require_acr: 1fa for it; a one-factor approval is refused 403 insufficient_authentication
// before it is consumed (in Redis or through Signet's consume endpoint), so it is not burned.
func TestSingleFactorDoesNotPay(t *testing.T) {
	for _, mode := range []string{"redis", "signet consume endpoint"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, backends[0], func(c *gateway.Config, e *env) {
				if mode != "redis" {
					c.Consume = gateway.ConsumeConfig{SignetURL: e.signet, APIKey: apiSecret}
				}
				c.Routes = append(c.Routes, gateway.Route{Method: "POST", Path: "/device/payments", RequireACR: "1fa",
					Binding: &gateway.Binding{Amount: "/amount", Currency: "/currency", PayeeAccount: "/creditor_account"}})
			})
			_, dk := e.approveWithDeviceKey("17")
			_, sca := e.approve("18")
			payAt := func(path, token, amount string) payResult {
				req, _ := http.NewRequest("POST", e.gw+path, strings.NewReader(body(amount)))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				return payResult{status: resp.StatusCode, body: m}
			}
			steps := []struct {
				name, path, token, amount string
				status                    int
				code                      string
				upstream                  int64
			}{
				{"device key alone on a payment route", "/payments", dk, "17", 403, "insufficient_authentication", 0},
				{"SCA pays", "/payments", sca, "18", 201, "", 1},
				{"the refused token was not burned: the 1fa route takes it", "/device/payments", dk, "17", 201, "", 1},
			}
			for _, st := range steps {
				before := e.upstream.Load()
				r := payAt(st.path, st.token, st.amount)
				if r.status != st.status || (st.code != "" && r.body["code"] != st.code) {
					t.Fatalf("%s: %d %v, want %d %s", st.name, r.status, r.body, st.status, st.code)
				}
				if got := e.upstream.Load() - before; got != st.upstream {
					t.Fatalf("%s: upstream called %d times", st.name, got)
				}
			}
		})
	}
}
