package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// TestReplicasOnRedisShareOperationChanges: two serve processes' apps on one database and one
// Redis (SIGNET_REDIS_URL) are joined by the operation feed: a change made through one is
// published, and the other receives it and wakes its waiter.
func TestReplicasOnRedisShareOperationChanges(t *testing.T) {
	redisURL := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	const key = "0123456789abcdef0123"
	env := []string{"SIGNET_DATA_DIR=" + t.TempDir(), "SIGNET_REDIS_URL=" + redisURL,
		"SIGNET_API_KEYS=bank:" + key + ":admin", "SIGNET_KEK=" + randomStdB64(32)}
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	replica := func() *app {
		a, err := buildApp(ctx, cfg, newLogger(io.Discard, cfg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.server.Shutdown(ctx); a.close() })
		return a
	}
	a, b := replica(), replica()
	// Pub/sub delivers only to subscriptions in place: B's counts its first subscription as a
	// resync, and only after that can A's notice reach it.
	if !feedCounted(t, b, "resync") {
		t.Fatal("replica B never subscribed to the feed")
	}
	call := func(x *app, method, path, body string) map[string]any {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := x.server.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, m, err)
		}
		return m
	}
	user := call(a, "POST", "/v1/users", `{"external_id":"cust-replicas"}`)
	op := call(a, "POST", "/v1/operations", `{"user_id":"`+user["id"].(string)+`","type":"payment","amount":"1.00","currency":"EUR",`+
		`"payee":{"account":"DE89370400440532013000","name":"ACME GmbH"}}`)
	id := op["id"].(string)
	call(a, "POST", "/v1/operations/"+id+"/cancel", "")
	if got := call(b, "GET", "/v1/operations/"+id+"?wait=20s", ""); got["status"] != "CANCELED" {
		t.Fatalf("replica B: %v", got)
	}
	// The long-poll above may have read the state before the notice arrived; the counters
	// say the notice crossed: published by A, received by B.
	for _, c := range []struct {
		x      *app
		result string
	}{{a, "published"}, {b, "received"}} {
		if !feedCounted(t, c.x, c.result) {
			t.Errorf("signet_operation_feed_total{result=%q} stayed 0", c.result)
		}
	}
}

// feedCounted reports whether signet_operation_feed_total{result} on the app's admin /metrics
// becomes non-zero within 10 s (the notice crosses Redis on goroutines of their own: the test
// polls the counter, which is the only thing it can observe from outside).
func feedCounted(t *testing.T, x *app, result string) bool {
	t.Helper()
	line := `signet_operation_feed_total{result="` + result + `"} `
	for range 200 {
		resp, err := x.server.Admin().Test(httptest.NewRequest(http.MethodGet, "/metrics", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(l, line); ok && v != "0" {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestServeDrainsBeforeItStops: with SIGNET_SHUTDOWN_DRAIN, SIGTERM (ctx cancelled) first turns
// /readyz to 503 "draining" while requests are still served, and only after the drain does
// serve stop accepting and return.
func TestServeDrainsBeforeItStops(t *testing.T) {
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + t.TempDir(), "SIGNET_HTTP_ADDR=127.0.0.1:0",
		"SIGNET_ADMIN_ADDR=off", "SIGNET_SHUTDOWN_DRAIN=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	addr := <-ready
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", code)
	}
	cancel()
	// Draining begins right after the signal: the first 503 ends the wait (bounded by 10 s).
	for i := 0; ; i++ {
		code, body := get("/readyz")
		if code == 503 && strings.Contains(body, `"draining"`) {
			break
		}
		if i == 200 {
			t.Fatalf("/readyz after SIGTERM: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("a request while draining: %d", code)
	}
	select {
	case err := <-done:
		t.Fatalf("serve returned during the drain: %v", err)
	default:
	}
	if err := <-done; err != nil { // after the drain: shut down
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still accepting after the shutdown")
	}
}
