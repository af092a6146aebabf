package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// EnvCaddy names the caddy binary: .ci/run builds it from its Go module
// (github.com/caddyserver/caddy/v2/cmd/caddy, the version docs/gateway.md names) into a cache
// directory outside the repository, so that nothing is downloaded at test time and go.mod does
// not grow Caddy's dependencies.
const EnvCaddy = "SIGNET_TEST_CADDY"

// caddyBinary is $SIGNET_TEST_CADDY. Without it the test is skipped, or fails when
// SIGNET_TEST_REQUIRE_SERVICES=1 (CI).
func caddyBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv(EnvCaddy)
	if path == "" {
		hint := EnvCaddy + " is not set (GOBIN=DIR go install github.com/caddyserver/caddy/v2/cmd/caddy@v2.11.9, then " + EnvCaddy + "=DIR/caddy)"
		if os.Getenv(replaytest.EnvRequireServices) == "1" {
			t.Fatalf("%s and %s=1", hint, replaytest.EnvRequireServices)
		}
		t.Skip(hint)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file (%v)", EnvCaddy, path, err)
	}
	return path
}

// startCaddy runs Caddy with the Caddyfile of docs/gateway.md, its addresses replaced: the
// gateway's check endpoint, the payment API, and the site clients reach (plain HTTP on loopback
// instead of api.bank.example with automatic HTTPS). Global options turn the admin endpoint off
// and keep storage and autosave in a temporary directory. It returns Caddy's base URL.
func startCaddy(t *testing.T, authz, payments string) string {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	site := strings.NewReplacer("127.0.0.1:8001", authz, "127.0.0.1:9000", payments, "api.bank.example", "http://"+listen).
		Replace(docsBlock(t, "caddyfile"))
	for _, addr := range []string{authz, payments, "http://" + listen} {
		if !strings.Contains(site, addr) {
			t.Fatalf("the documented Caddyfile lacks an address the test replaces (%s)", addr)
		}
	}
	conf := "{\n\tadmin off\n\tpersist_config off\n\tstorage file_system " + filepath.Join(dir, "storage") +
		"\n\tskip_install_trust\n\tgrace_period 2s\n}\n\n" + site
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", path)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	output := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("Caddyfile:\n%s\ncaddy output:\n%s", conf, output())
		}
	})
	waitListening(t, "caddy", listen, exited, output)
	return "http://" + listen
}

// signetHeaders are the names in h that a CGI-style upstream could read as a Signet-* header
// (letter case, '_' and '.' folded to '-').
func signetHeaders(h http.Header) []string {
	var names []string
	for name := range h {
		if strings.HasPrefix(strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name)), "signet-") {
			names = append(names, name)
		}
	}
	return names
}

// TestCaddyForwardAuth: Caddy's forward_auth in front of a recording payment API, asking
// `signet gateway` in mode authz, with the Caddyfile of docs/gateway.md: the same outcomes as
// mode proxy and as nginx (401, 403 binding, 409 replay, 503 with Redis down), and every payment
// reaches the upstream exactly once, with the verified identity and no spoofed one.
func TestCaddyForwardAuth(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var upstream string
			e := newEnv(t, b, authzMode(&upstream))
			base := startCaddy(t, strings.TrimPrefix(e.gw, "http://"), strings.TrimPrefix(upstream, "http://"))
			t.Run("what no route matches is refused, not forwarded", func(t *testing.T) {
				_, tok := e.approve("8")
				req, _ := http.NewRequest("POST", base+"/refunds", strings.NewReader(body("8")))
				req.Header.Set("Txn-Token", tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || e.upstream.Load() != 0 {
					t.Fatalf("status %d (%s), upstream called %d times", resp.StatusCode, resp.Header.Get("Content-Type"), e.upstream.Load())
				}
			})
			t.Run("identity headers spelt with an underscore or a dot are dropped", func(t *testing.T) {
				seen := make(chan http.Header, 1)
				e.inspect.Store(&seen)
				defer e.inspect.Store(nil)
				_, tok := e.approve("7")
				// Caddy drops them before the check and the upstream, as nginx drops the first
				status, m, _ := headerPay(t, base, tok, "7", "7", map[string]string{"Signet_Subject": "mallory", "Signet.Operation": "op-of-mallory"})
				if status != 201 {
					t.Fatalf("status %d: %v", status, m)
				}
				h := <-seen
				if names := signetHeaders(h); len(names) != 2 || h.Get("Signet-Subject") != e.user.ExternalID {
					t.Fatalf("the payment API received %v: %v", names, h)
				}
			})
			forwardAuthOutcomes(t, e, base)
		})
	}
}

// TestCaddyCopyHeadersDeletesClientFields: what the documented Caddyfile forwards when the check
// allows without identity headers (an open route): the client's fields named in copy_headers are
// deleted, not passed on, and the token header is removed; the check itself sees the client's
// headers (so that the gateway can refuse a spoofed one) and the original method and URI.
func TestCaddyCopyHeadersDeletesClientFields(t *testing.T) {
	checked := make(chan http.Header, 1)
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Check-Method", r.Method)
		checked <- h
		w.WriteHeader(http.StatusOK) // allowed, no identity: as the gateway answers an open route
	}))
	defer check.Close()
	forwarded := make(chan *http.Request, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded <- r.Clone(r.Context())
		w.WriteHeader(http.StatusCreated)
	}))
	defer up.Close()
	base := startCaddy(t, strings.TrimPrefix(check.URL, "http://"), strings.TrimPrefix(up.URL, "http://"))

	req, _ := http.NewRequest("POST", base+"/payments?x=1", strings.NewReader(body("5")))
	req.Header.Set("Txn-Token", "a.b.c")
	req.Header.Set("Signet-Subject", "mallory")
	req.Header.Set("Signet-Operation", "op-of-mallory")
	req.Header.Set("Idempotency-Key", "client-chosen")
	req.Header["Signet_Subject"] = []string{"mallory"} // Caddy drops names with an underscore or a dot
	req.Header["Signet.Operation"] = []string{"op-of-mallory"}
	req.Header.Set("X-Forwarded-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c := <-checked
	if c.Get("Check-Method") != "GET" || c.Get("X-Forwarded-Method") != "POST" || len(c.Values("X-Forwarded-Method")) != 1 ||
		c.Get("X-Forwarded-Uri") != "/payments?x=1" || c.Get("Signet-Subject") != "mallory" || c.Get("Txn-Token") != "a.b.c" {
		t.Fatalf("the check saw %v", c)
	}
	r := <-forwarded
	if names := signetHeaders(r.Header); len(names) != 0 || r.Header.Get("Idempotency-Key") != "" || r.Header.Get("Txn-Token") != "" {
		t.Errorf("the payment API received the client's %v: %v", names, r.Header)
	}
	if r.Method != "POST" || r.URL.RequestURI() != "/payments?x=1" {
		t.Errorf("the payment API received %s %s", r.Method, r.URL.RequestURI())
	}
}

// TestCaddyGatewayDown: Caddy answers 503 when the check endpoint cannot be reached (handle_errors
// of the documented Caddyfile), never forwarding the payment.
func TestCaddyGatewayDown(t *testing.T) {
	var upstream string
	e := newEnv(t, backends[0], authzMode(&upstream))
	base := startCaddy(t, freeAddr(t), strings.TrimPrefix(upstream, "http://"))
	_, tok := e.approve("9")
	status, m, h := headerPay(t, base, tok, "9", "9", nil)
	if status != 503 || m["code"] != "unavailable" || h.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d (%s): %v", status, h.Get("Content-Type"), m)
	}
	if e.upstream.Load() != 0 {
		t.Fatal("the upstream was called")
	}
}

// TestCaddyGatewaySlow: a check that does not answer within response_header_timeout fails closed
// with 503, and Caddy does not ask a second time.
func TestCaddyGatewaySlow(t *testing.T) {
	asked := make(chan struct{}, 4)
	release := make(chan struct{})
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer check.Close()
	defer close(release)
	calls := make(chan struct{}, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls <- struct{}{} }))
	defer up.Close()
	base := startCaddy(t, strings.TrimPrefix(check.URL, "http://"), strings.TrimPrefix(up.URL, "http://"))
	client := &http.Client{Timeout: 30 * time.Second} // response_header_timeout is 5 s
	resp, err := client.Post(base+"/payments", "application/json", strings.NewReader(body("9")))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(raw), `"code":"unavailable"`) {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	if len(asked) != 1 || len(calls) != 0 {
		t.Fatalf("the check was asked %d times, the upstream called %d times", len(asked), len(calls))
	}
}

// TestCaddyUpstreamDown: once the check has allowed (the token spent), an unreachable payment API
// is 502 bad_gateway as in mode proxy, not 503 (which would invite a retry with a spent token),
// and the same token again is 409.
func TestCaddyUpstreamDown(t *testing.T) {
	var upstream string
	e := newEnv(t, backends[0], authzMode(&upstream))
	base := startCaddy(t, strings.TrimPrefix(e.gw, "http://"), freeAddr(t))
	_, tok := e.approve("9")
	if status, m, _ := headerPay(t, base, tok, "9", "9", nil); status != 502 || m["code"] != "bad_gateway" {
		t.Fatalf("status %d: %v", status, m)
	}
	if status, m, _ := headerPay(t, base, tok, "9", "9", nil); status != 409 || m["code"] != "token_replayed" {
		t.Fatalf("status %d: %v", status, m)
	}
}
