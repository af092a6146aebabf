package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// nginxBinary finds nginx (Debian's package; .ci/run installs it). Without it the test is
// skipped, or fails when SIGNET_TEST_REQUIRE_SERVICES=1 (CI).
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(replaytest.EnvRequireServices) == "1" {
		t.Fatalf("nginx is not installed and %s=1 (apt-get install nginx)", replaytest.EnvRequireServices)
	}
	t.Skip("nginx is not installed (apt-get install nginx)")
	return ""
}

// docsNginx is the nginx configuration of docs/gateway.md, so that the documented configuration is
// the one tested.
func docsNginx(t *testing.T) string {
	t.Helper()
	docs, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindSubmatch(docs)
	if m == nil {
		t.Fatal("docs/gateway.md has no nginx block")
	}
	return string(m[1])
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNginx runs nginx with the documented server block, its addresses replaced: the gateway's
// check endpoint, the payment API, and the address clients reach. It returns nginx's base URL.
func startNginx(t *testing.T, authz, payments string) string {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	block := strings.NewReplacer("127.0.0.1:8001", authz, "127.0.0.1:9000", payments, "127.0.0.1:8080", listen).Replace(docsNginx(t))
	for _, addr := range []string{authz, payments, listen} {
		if !strings.Contains(block, addr) {
			t.Fatalf("the documented nginx configuration lacks an address the test replaces (%s)", addr)
		}
	}
	conf := "daemon off;\nmaster_process off;\npid " + filepath.Join(dir, "nginx.pid") + ";\nerror_log " + filepath.Join(dir, "error.log") + " info;\n" +
		"events { worker_connections 256; }\nhttp {\n access_log off;\n"
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		conf += " " + d + "_temp_path " + filepath.Join(dir, d) + ";\n"
	}
	conf += block + "}\n"
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + listen
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %v", listen, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authzMode turns newEnv's gateway into a forward-auth check endpoint: nginx carries the payment's
// binding in headers the client sets beside the body (auth_request cannot pass the body).
func authzMode(upstream *string) func(*gateway.Config, *env) {
	return func(c *gateway.Config, _ *env) {
		*upstream = c.Upstream
		c.Mode, c.Upstream, c.AdminListen = gateway.ModeAuthz, "", "127.0.0.1:0"
		c.Routes[0].Binding = &gateway.Binding{Amount: "header:Payment-Amount", Currency: "header:Payment-Currency",
			PayeeAccount: "header:Payment-Payee-Account"}
	}
}

// nginxPay sends a payment through nginx: the body, and its binding fields in headers (extra
// headers are added; an empty value removes the header).
func nginxPay(t *testing.T, base, token, amount, bodyAmount string, extra map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/payments", strings.NewReader(body(bodyAmount)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Payment-Amount", amount)
	req.Header.Set("Payment-Currency", "EUR")
	req.Header.Set("Payment-Payee-Account", "DE89 3704 0044 0532 0130 00")
	if token != "" {
		req.Header.Set("Txn-Token", token)
	}
	for k, v := range extra {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

// TestNginxForwardAuth: nginx's auth_request in front of a recording payment API, asking
// `signet gateway` in mode authz, with the configuration of docs/gateway.md: the same outcomes as
// mode proxy (401, 403 binding, 409 replay, 503 with Redis down), and every payment reaches the
// upstream exactly once, with the verified identity and no spoofed one.
func TestNginxForwardAuth(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var upstream string
			e := newEnv(t, b, authzMode(&upstream))
			base := startNginx(t, strings.TrimPrefix(e.gw, "http://"), strings.TrimPrefix(upstream, "http://"))
			op, tok := e.approve("100")
			_, tokSpoof := e.approve("5")
			_, tokWeak := e.approveWithDeviceKey("6")
			steps := []struct {
				name          string
				token         string
				amount, body  string
				extra         map[string]string
				status        int
				code          string
				upstreamCalls int64
			}{
				{name: "no token", amount: "100", body: "100", status: 401, code: "invalid_token"},
				{name: "malformed token", token: "not.a.token", amount: "100", body: "100", status: 401, code: "invalid_token"},
				{name: "amount altered in the signed headers", token: tok, amount: "100.01", body: "100.01", status: 403, code: "binding_mismatch"},
				{name: "one factor on an SCA route", token: tokWeak, amount: "6", body: "6", status: 403, code: "insufficient_authentication"},
				{name: "binding header missing", token: tok, amount: "100", body: "100",
					extra: map[string]string{"Payment-Amount": ""}, status: 400, code: "invalid_request"},
				{name: "spoofed identity header is refused, not forwarded", token: tokSpoof, amount: "5", body: "5",
					extra: map[string]string{"Signet-Subject": "mallory"}, status: 400, code: "invalid_request"},
				{name: "method override is refused", token: tokSpoof, amount: "5", body: "5",
					extra: map[string]string{"X-HTTP-Method-Override": "DELETE"}, status: 400, code: "invalid_request"},
				{name: "approved: the upstream pays once", token: tok, amount: "100.00", body: "100.00", status: 201, upstreamCalls: 1},
				{name: "same token again", token: tok, amount: "100.00", body: "100.00", status: 409, code: "token_replayed"},
				{name: "the refused spoof did not burn its token", token: tokSpoof, amount: "5", body: "5", status: 201, upstreamCalls: 1},
			}
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) {
					before := e.upstream.Load()
					status, m, h := nginxPay(t, base, st.token, st.amount, st.body, st.extra)
					if status != st.status {
						t.Fatalf("status %d, want %d: %v", status, st.status, m)
					}
					if got := e.upstream.Load() - before; got != st.upstreamCalls {
						t.Fatalf("upstream called %d times, want %d", got, st.upstreamCalls)
					}
					if st.code != "" && (m["code"] != st.code || m["status"] != float64(st.status) || h.Get("Content-Type") != "application/problem+json") {
						t.Fatalf("refusal %v (%s), want code %s", m, h.Get("Content-Type"), st.code)
					}
				})
			}
			last := e.payments.Payments()
			if p := last[len(last)-2]; p.Operation != op.ID || p.Subject != e.user.ExternalID || p.Amount != "100.00" {
				t.Fatalf("upstream recorded %+v, want operation %s for %s", p, op.ID, e.user.ExternalID)
			}
			t.Run("identity headers reach the upstream, the token does not", func(t *testing.T) {
				seen := make(chan http.Header, 1)
				e.inspect.Store(&seen)
				defer e.inspect.Store(nil)
				opH, tokH := e.approve("3")
				if status, m, _ := nginxPay(t, base, tokH, "3", "3", map[string]string{"Idempotency-Key": "client-chosen"}); status != 201 {
					t.Fatalf("status %d: %v", status, m)
				}
				h := <-seen
				if h.Get("Signet-Operation") != opH.ID || h.Get("Signet-Subject") != e.user.ExternalID ||
					h.Values("Idempotency-Key")[0] != opH.ID || len(h.Values("Idempotency-Key")) != 1 || h.Get("Txn-Token") != "" {
					t.Fatalf("upstream saw %v", h)
				}
			})
			t.Run("open route: allowed without a token, no identity", func(t *testing.T) {
				seen := make(chan http.Header, 1)
				e.inspect.Store(&seen)
				defer e.inspect.Store(nil)
				resp, err := http.Get(base + "/payments")
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
				if h := <-seen; h.Get("Signet-Operation") != "" || h.Get("Signet-Subject") != "" {
					t.Fatalf("upstream saw %v", h)
				}
			})
			t.Run("one token sent ten times at once: one payment", func(t *testing.T) {
				_, tokC := e.approve("44")
				before := e.upstream.Load()
				var wg sync.WaitGroup
				statuses := make(chan int, 10)
				for range 10 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s, _, _ := nginxPay(t, base, tokC, "44", "44", nil)
						statuses <- s
					}()
				}
				wg.Wait()
				close(statuses)
				count := map[int]int{}
				for s := range statuses {
					count[s]++
				}
				if count[201] != 1 || count[409] != 9 || e.upstream.Load()-before != 1 {
					t.Fatalf("statuses %v, upstream calls %d", count, e.upstream.Load()-before)
				}
			})
			t.Run("Redis stopped fails closed", func(t *testing.T) {
				_, tokR := e.approve("11")
				e.stop()
				before := e.upstream.Load()
				if status, m, _ := nginxPay(t, base, tokR, "11", "11", nil); status != 503 || m["code"] != "unavailable" {
					t.Fatalf("status %d, want 503: %v", status, m)
				}
				if e.upstream.Load() != before {
					t.Fatal("the upstream was called without a consumed token")
				}
			})
		})
	}
}

// TestNginxGatewayDown: nginx answers 503 when the check endpoint cannot be reached, never
// forwarding the payment.
func TestNginxGatewayDown(t *testing.T) {
	var upstream string
	e := newEnv(t, backends[0], authzMode(&upstream))
	base := startNginx(t, freeAddr(t), strings.TrimPrefix(upstream, "http://"))
	_, tok := e.approve("9")
	if status, m, _ := nginxPay(t, base, tok, "9", "9", nil); status != 503 || m["code"] != "unavailable" {
		t.Fatalf("status %d: %v", status, m)
	}
	if e.upstream.Load() != 0 {
		t.Fatal("the upstream was called")
	}
}
