package gateway_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/gateway"
)

// Shared by the tests that put a real proxy (nginx_test.go, caddy_test.go) in front of the
// recording payment API, asking `signet gateway` in mode authz.

// docsBlock is the first fenced block of docs/gateway.md whose info string is lang, so that the
// documented configuration is the one tested.
func docsBlock(t *testing.T, lang string) string {
	t.Helper()
	docs, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```" + regexp.QuoteMeta(lang) + "\n(.*?)```").FindSubmatch(docs)
	if m == nil {
		t.Fatalf("docs/gateway.md has no %s block", lang)
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

// waitListening waits until addr accepts connections, failing when the process has exited
// (exited closed) or after 20 s; output gives what to show then.
func waitListening(t *testing.T, name, addr string, exited <-chan struct{}, output func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s: %v\n%s", name, addr, err, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authzMode turns newEnv's gateway into a forward-auth check endpoint: neither nginx nor Caddy
// passes the body to the check, so the client carries the payment's binding in headers beside the
// body.
func authzMode(upstream *string) func(*gateway.Config, *env) {
	return func(c *gateway.Config, _ *env) {
		*upstream = c.Upstream
		c.Mode, c.Upstream, c.AdminListen = gateway.ModeAuthz, "", "127.0.0.1:0"
		c.Routes[0].Binding = &gateway.Binding{Amount: "header:Payment-Amount", Currency: "header:Payment-Currency",
			PayeeAccount: "header:Payment-Payee-Account"}
	}
}

// headerPay sends a payment through the proxy at base: the body, and its binding fields in
// headers (extra headers are added; an empty value removes the header).
func headerPay(t *testing.T, base, token, amount, bodyAmount string, extra map[string]string) (int, map[string]any, http.Header) {
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
			req.Header[k] = []string{v} // as written: Signet_Subject keeps its underscore
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

// forwardAuthOutcomes proves, through the proxy at base in front of e's payment API, the outcomes
// of mode proxy: 401, 403 (binding, authentication class), 400 (a spoofed identity or method
// override), 409 replay, one payment for ten concurrent sends of one token, the verified identity
// and never the token at the upstream, and 503 once Redis is stopped (last: it stops Redis).
func forwardAuthOutcomes(t *testing.T, e *env, base string) {
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
		{name: "client-sent original method and URI are replaced", amount: "100", body: "100",
			extra: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/payments"}, status: 401, code: "invalid_token"},
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
			status, m, h := headerPay(t, base, st.token, st.amount, st.body, st.extra)
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
		if status, m, _ := headerPay(t, base, tokH, "3", "3", map[string]string{"Idempotency-Key": "client-chosen"}); status != 201 {
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
				s, _, _ := headerPay(t, base, tokC, "44", "44", nil)
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
		if status, m, _ := headerPay(t, base, tokR, "11", "11", nil); status != 503 || m["code"] != "unavailable" {
			t.Fatalf("status %d, want 503: %v", status, m)
		}
		if e.upstream.Load() != before {
			t.Fatal("the upstream was called without a consumed token")
		}
	})
}
