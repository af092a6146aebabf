package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/txsign/verify"
)

// recordedLogs is a slog.Handler that keeps every record, for tests that assert what was logged.
type recordedLogs struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordedLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordedLogs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordedLogs) WithGroup(string) slog.Handler            { return h }
func (h *recordedLogs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// find returns the attributes (as strings) of the records with message msg, and their levels.
func (h *recordedLogs) find(msg string) ([]map[string]string, []slog.Level) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var attrs []map[string]string
	var levels []slog.Level
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		attrs, levels = append(attrs, m), append(levels, r.Level)
	}
	return attrs, levels
}

// metrics returns the gateway's /metrics page.
func (e *env) metrics() string {
	e.t.Helper()
	resp, err := http.Get(e.gw + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// downUpstream is an upstream that cannot be reached.
type downUpstream struct{}

var errUpstreamDown = errors.New("dial tcp: connection refused (test upstream)")

func (downUpstream) RoundTrip(*http.Request) (*http.Response, error) { return nil, errUpstreamDown }

// TestUpstreamUnavailable: a request the gateway lets through to an upstream it cannot reach is
// answered 502 bad_gateway (never the transport's error text), counted upstream_error and logged at
// WARN with the cause and the path. A guarded request's token was consumed before forwarding, so
// it is spent: the upstream's Idempotency-Key, not the token, is what makes a retry safe.
func TestUpstreamUnavailable(t *testing.T) {
	logs := &recordedLogs{}
	e := newEnv(t, backends[0], func(_ *gateway.Config, e *env) {
		e.opts = []gateway.Option{gateway.WithUpstreamTransport(downUpstream{}), gateway.WithLogger(slog.New(logs))}
	})
	badGateway := func(t *testing.T, status int, p map[string]any) {
		t.Helper()
		if status != http.StatusBadGateway || p["type"] != verify.ProblemTypeBase+"bad_gateway" || p["code"] != "bad_gateway" ||
			p["title"] != "Upstream unavailable" || p["status"] != float64(http.StatusBadGateway) {
			t.Fatalf("status %d %v, want the bad_gateway problem", status, p)
		}
	}
	t.Run("open route", func(t *testing.T) {
		resp, err := http.Get(e.gw + "/payments")
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(raw, &p)
		badGateway(t, resp.StatusCode, p)
	})
	t.Run("guarded route: the token is spent", func(t *testing.T) {
		_, tok := e.approve("21")
		r := e.pay(tok, "bearer", body("21"), nil)
		badGateway(t, r.status, r.body)
		if r := e.pay(tok, "bearer", body("21"), nil); r.status != http.StatusConflict {
			t.Fatalf("the same token again: %d %v, want 409", r.status, r.body)
		}
	})
	m := e.metrics()
	for _, want := range []string{`signet_gateway_requests_total{outcome="upstream_error",route="GET /payments"} 1`,
		`signet_gateway_requests_total{outcome="upstream_error",route="POST /payments"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	failed, levels := logs.find("upstream failed")
	if len(failed) != 2 || levels[0] != slog.LevelWarn || failed[0]["path"] != "/payments" || failed[0]["err"] != errUpstreamDown.Error() {
		t.Errorf("upstream failures logged %v at %v, want two at WARN with the cause and the path", failed, levels)
	}
	requests, levels := logs.find("gateway request")
	if len(requests) != 3 { // the open route, the payment, the replay
		t.Fatalf("%d requests logged, want 3", len(requests))
	}
	for i, r := range requests[:2] {
		if r["status"] != "502" || r["outcome"] != "upstream_error" || levels[i] != slog.LevelWarn {
			t.Errorf("request logged %v at %v, want status 502, outcome upstream_error at WARN", r, levels[i])
		}
	}
	if r := requests[2]; r["status"] != "409" || r["outcome"] != "replayed" || levels[2] != slog.LevelInfo {
		t.Errorf("replay logged %v at %v, want status 409, outcome replayed at INFO", r, levels[2])
	}
}

// TestBodyTooLarge: a body one byte over max_body_bytes is refused 413 body_too_large while the
// binding is read, counted bad_request, and does not burn the token; a body of exactly the limit
// is read and pays.
func TestBodyTooLarge(t *testing.T) {
	limit := len(body("19"))
	e := newEnv(t, backends[0], func(c *gateway.Config, _ *env) { c.MaxBodyBytes = int64(limit) })
	_, tok := e.approve("19")
	r := e.pay(tok, "bearer", body("19")+" ", nil)
	if r.status != http.StatusRequestEntityTooLarge || r.body["type"] != verify.ProblemTypeBase+"body_too_large" ||
		r.body["code"] != "body_too_large" || r.body["title"] != "Request body too large" {
		t.Fatalf("%d bytes over a limit of %d: %d %v, want 413 body_too_large", limit+1, limit, r.status, r.body)
	}
	if n := e.upstream.Load(); n != 0 {
		t.Fatalf("the upstream was called %d times", n)
	}
	if r := e.pay(tok, "bearer", body("19"), nil); r.status != http.StatusCreated {
		t.Fatalf("%d bytes, the limit: %d %v, want 201", limit, r.status, r.body)
	}
	m := e.metrics()
	for _, want := range []string{`signet_gateway_requests_total{outcome="bad_request",route="POST /payments"} 1`,
		`signet_gateway_requests_total{outcome="proxied",route="POST /payments"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// statusUpstream answers every request with the status its Test-Status header names.
type statusUpstream struct{}

func (statusUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	code, err := strconv.Atoi(r.Header.Get("Test-Status"))
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: http.NoBody, Request: r}, nil
}

// TestRequestLog: every request on a route is logged once, when it ends, with its route, method,
// status, outcome and duration: at INFO, or at WARN from status 500 on (the upstream's own server
// errors included). A refusal says whether a token was sent at all (no_token) or was not valid
// (invalid_token). (The record is written before the response leaves: these responses are smaller
// than net/http's write buffer, which is flushed when the handler returns.)
func TestRequestLog(t *testing.T) {
	logs := &recordedLogs{}
	e := newEnv(t, backends[0], func(_ *gateway.Config, e *env) {
		e.opts = []gateway.Option{gateway.WithUpstreamTransport(statusUpstream{}), gateway.WithLogger(slog.New(logs))}
	})
	steps := []struct {
		name, method, token, upstream string
		status                        int
		outcome                       string
		level                         slog.Level
	}{
		{"no token", "POST", "", "", 401, "no_token", slog.LevelInfo},
		{"a token that is none", "POST", "not.a.token", "", 401, "invalid_token", slog.LevelInfo},
		{"the upstream's 499", "GET", "", "499", 499, "proxied", slog.LevelInfo},
		{"the upstream's 500", "GET", "", "500", 500, "proxied", slog.LevelWarn},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			req, _ := http.NewRequest(st.method, e.gw+"/payments", strings.NewReader(body("1")))
			if st.token != "" {
				req.Header.Set("Authorization", "Bearer "+st.token)
			}
			req.Header.Set("Test-Status", st.upstream)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			elapsed := float64(time.Since(start).Microseconds()) / 1000
			if resp.StatusCode != st.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, st.status)
			}
			recs, levels := logs.find("gateway request")
			if len(recs) != i+1 {
				t.Fatalf("%d requests logged, want %d", len(recs), i+1)
			}
			r, level := recs[i], levels[i]
			if r["route"] != st.method+" /payments" || r["method"] != st.method || r["status"] != strconv.Itoa(st.status) ||
				r["outcome"] != st.outcome || level != st.level {
				t.Fatalf("logged %v at %v, want status %d, outcome %s at %v", r, level, st.status, st.outcome, st.level)
			}
			if d, err := strconv.ParseFloat(r["duration_ms"], 64); err != nil || d < 0 || d > elapsed {
				t.Fatalf("duration_ms %s, but the client saw the whole request take %.3f ms", r["duration_ms"], elapsed)
			}
		})
	}
}
