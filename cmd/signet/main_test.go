package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
	"sync"
	"sync/atomic"
)

func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd(env)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestVersionAndMigrate(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SIGNET_DATA_DIR=" + dir}
	if out, err := run(t, env, "version"); err != nil || !strings.HasPrefix(out, "signet ") {
		t.Fatalf("version: %q %v", out, err)
	}
	out, err := run(t, env, "migrate")
	if err != nil || !strings.Contains(out, "applied 0001_init") || !strings.HasPrefix(out, "applying 0001_init ...\n") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	if out, err := run(t, env, "migrate"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %q %v", out, err)
	}
}

func TestServeReportsEveryConfigProblem(t *testing.T) {
	_, err := run(t, []string{"SIGNET_DATABASE_URL=postgres://h/db", "SIGNET_TOKEN_TTL=1h", "SIGNET_LOG_FORMAT=xml"}, "serve")
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"SIGNET_API_KEYS", "SIGNET_KEK", "SIGNET_TOKEN_TTL", "SIGNET_LOG_FORMAT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestKeysRotateAndList(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SIGNET_DATA_DIR=" + dir}
	// Outside an instance, keys and audit say where they looked and create nothing.
	out, err := run(t, env, "keys", "list")
	if err == nil || !strings.Contains(err.Error(), "no Signet instance here") || !strings.Contains(err.Error(), filepath.Join(dir, "kek")) {
		t.Fatalf("keys list outside an instance: %q %v", out, err)
	}
	if out, err := run(t, env, "audit", "export", "--from", "2026-01-01", "--to", "2026-02-01"); err == nil || !strings.Contains(err.Error(), "no Signet instance here") {
		t.Fatalf("audit export outside an instance: %q %v", out, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("keys list created %d files in an empty directory", len(entries))
	}
	// An instance as `signet serve` leaves it: secrets and a database.
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %q %v", out, err)
	}
	if out, err := run(t, env, "keys", "rotate"); err != nil || !strings.Contains(out, "active signing key is now") {
		t.Fatalf("rotate: %q %v", out, err)
	}
	out, err = run(t, env, "keys", "list")
	if err != nil || strings.Count(out, "retired") != 1 || strings.Count(out, "active") != 1 || strings.Count(out, "next") != 1 {
		t.Fatalf("list: %q %v", out, err)
	}
}

// TestServeEmbeddedAndShutdown runs the server as `make run` does (embedded
// mode, generated API key), calls the private API with the key it printed,
// then shuts down gracefully.
func TestServeEmbeddedAndShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_ADMIN_ADDR=127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var banner bytes.Buffer
	if err := ensureEmbeddedSecrets(&cfg, &banner); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(banner.String(), filepath.Join(dir, "api-key")) || !strings.Contains(banner.String(), "WARNING: SIGNET_KEK is not set") {
		t.Fatalf("banner: %s", banner.String())
	}
	secret := strings.Split(cfg.APIKeys, ":")[1]
	if !strings.Contains(banner.String(), secret) {
		t.Fatal("the generated API key is not printed")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/users", strings.NewReader(`{"external_id":"c1"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create user: %v %v", resp, err)
	}
	resp.Body.Close()

	// Restart keeps the same key (persisted), and says where it is.
	var again bytes.Buffer
	cfg2, _ := loadConfig([]string{"SIGNET_DATA_DIR=" + dir})
	_ = ensureEmbeddedSecrets(&cfg2, &again)
	if cfg2.APIKeys != cfg.APIKeys || cfg2.KEK != cfg.KEK || strings.Contains(again.String(), secret) {
		t.Fatalf("secrets not persisted or printed again: %s", again.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

// TestBenchAgainstEmbeddedServer runs `signet bench` against a live server.
func TestBenchAgainstEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	// Every virtual user comes from 127.0.0.1: one client address. The cheapest Argon2id the
	// configuration accepts: the passkey flow must complete approvals within the short run
	// even on a loaded machine (the default costs ~140 ms a hash there).
	cfg, _ := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_RATE_LIMIT_ADDRESS=off", "SIGNET_ADMIN_ADDR=127.0.0.1:0",
		"SIGNET_ARGON2_MEMORY_KIB=1024", "SIGNET_ARGON2_TIME=1"})
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go func() { _ = serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	addr := <-ready
	secret := strings.Split(cfg.APIKeys, ":")[1]
	out, err := run(t, []string{"SIGNET_BENCH_API_KEY=" + secret}, "bench", "--server", "http://"+addr, "--users", "2", "--duration", "1s",
		"--flows", "device-key,powerauth,passkey", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep struct {
		Primitives map[string]float64 `json:"primitives_ms"`
		Flows      []struct {
			Flow      string  `json:"flow"`
			Completed int     `json:"completed"`
			Errors    int     `json:"errors"`
			P99       float64 `json:"p99_ms"`
			Ratio     float64 `json:"ratio_to_bound"`
		} `json:"flows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Flows) != 3 || rep.Primitives["ecdsa_verify"] <= 0 || rep.Primitives["row_update"] <= 0 || rep.Primitives["argon2id"] <= 0 {
		t.Fatalf("report %s", out)
	}
	for i, name := range []string{"device-key", "powerauth", "passkey"} {
		f := rep.Flows[i]
		if f.Flow != name || f.Completed == 0 || f.Errors != 0 || f.P99 <= 0 || f.Ratio <= 0 {
			t.Fatalf("flow %s in report %s", name, out)
		}
	}
	// The run removed what it registered and reused its users.
	for _, ext := range []string{"bench-device-key-0", "bench-powerauth-1", "bench-passkey-1"} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/users?external_id="+ext, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("bench user %s: %v %v", ext, resp, err)
		}
		var u struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&u)
		resp.Body.Close()
		req, _ = http.NewRequest("GET", "http://"+addr+"/v1/users/"+u.ID+"/credentials", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var creds []struct{ Status string }
		var page struct {
			Credentials []struct{ Status string } `json:"credentials"`
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if json.Unmarshal(raw, &creds) != nil {
			_ = json.Unmarshal(raw, &page)
			creds = page.Credentials
		}
		if len(creds) == 0 {
			t.Fatalf("%s has no credentials: %s", ext, raw)
		}
		for _, c := range creds {
			if c.Status != "REMOVED" {
				t.Fatalf("%s keeps a %s credential after the run: %s", ext, c.Status, raw)
			}
		}
	}
	// The table into a pipe: plain progress lines, no carriage returns, and a footer saying what the columns mean.
	out, err = run(t, []string{"SIGNET_BENCH_API_KEY=" + secret}, "bench", "--server", "http://"+addr, "--users", "1", "--duration", "1s",
		"--flows", "device-key")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"device-key: running for 1s with 1 virtual users\n", "device-key: done in ", "ratio: ops/s as a share of that bound",
		"removed the 1 device keys and activations this run registered"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Errorf("carriage returns in piped output: %q", out)
	}
	if _, err := run(t, nil, "bench", "--server", "http://"+addr); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("bench without a key: %v", err)
	}
	if _, err := run(t, nil, "bench", "--flows", "upstream,device-key", "--upstream", "http://"+addr); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("bench without a key, device-key after upstream: %v", err)
	}
}

// TestBenchUpstreamNeedsNoKey: the upstream flow talks only to the upstream, so
// it runs without Signet's API key.
func TestBenchUpstreamNeedsNoKey(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer up.Close()
	out, err := run(t, nil, "bench", "--flows", "upstream", "--upstream", up.URL, "--users", "2", "--duration", "200ms")
	if err != nil || !strings.Contains(out, "the bench client and the upstream alone") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestEmbeddedKeyIsAdmin: the one API key embedded mode generates is the operator's, scope
// admin, whether written now or before keys had scopes ("admin:<secret>").
func TestEmbeddedKeyIsAdmin(t *testing.T) {
	fresh, old := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(old, "api-key"), []byte("admin:0123456789abcdefghijkl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{fresh, old} {
		cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
			t.Fatal(err)
		}
		keys, err := config.ParseAPIKeys(cfg.APIKeys)
		if err != nil || len(keys) != 1 || keys[0].Scope != config.ScopeAdmin {
			t.Fatalf("%s: keys %v %v; want one admin key", dir, keys, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "api-key")); !strings.HasSuffix(strings.TrimSpace(string(b)), ":admin") {
		t.Fatalf("generated file %q names no scope", b)
	}
}

// TestServeAdminListenerAndHSTS: /metrics is served on SIGNET_ADMIN_ADDR only (the public
// listener answers 404), and an https public URL turns HSTS on.
func TestServeAdminListenerAndHSTS(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := free.Addr().String()
	free.Close()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + t.TempDir(), "SIGNET_HTTP_ADDR=127.0.0.1:0",
		"SIGNET_ADMIN_ADDR=" + adminAddr, "SIGNET_PUBLIC_URL=https://signet.bank.example"})
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
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	get := func(url string) *http.Response {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("http://" + addr + "/metrics"); r.StatusCode != 404 {
		t.Errorf("public /metrics: %d; want 404", r.StatusCode)
	}
	if r := get("http://" + addr + "/healthz"); r.StatusCode != 200 || r.Header.Get("Strict-Transport-Security") != "max-age=63072000; includeSubDomains" {
		t.Errorf("public /healthz: %d, HSTS %q", r.StatusCode, r.Header.Get("Strict-Transport-Security"))
	}
	if r := get("http://" + adminAddr + "/metrics"); r.StatusCode != 200 {
		t.Errorf("admin /metrics: %d; want 200", r.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestWaitAOFCheckedAtStart: SIGNET_REDIS_CONSUME_WAITAOF against a Redis that cannot confirm
// it (the test Redis, SIGNET_TEST_REDIS_URL, is 7.0: no WAITAOF) stops serve with a message
// naming the setting and the reason; the same Redis without the setting starts.
func TestWaitAOFCheckedAtStart(t *testing.T) {
	redisURL := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	env := []string{"SIGNET_DATA_DIR=" + t.TempDir(), "SIGNET_REDIS_URL=" + redisURL,
		"SIGNET_API_KEYS=bank:0123456789abcdef0123", "SIGNET_KEK=" + randomStdB64(32)}
	ctx := context.Background()
	for _, tc := range []struct {
		name, waitAOF, want string
	}{
		{"server without WAITAOF", "1,0,100ms", "SIGNET_REDIS_CONSUME_WAITAOF=1,0,100ms: the Redis server"},
		{"unset", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(append(env, "SIGNET_REDIS_CONSUME_WAITAOF="+tc.waitAOF))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			a, err := buildApp(ctx, cfg, newLogger(io.Discard, cfg))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				a.close()
				return
			}
			if a != nil {
				a.close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("buildApp: %v; want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "needs Redis 7.2 or later") && !strings.Contains(err.Error(), "appendonly") {
				t.Fatalf("the reason is missing: %v", err)
			}
			t.Log(err)
		})
	}
}

// TestMistypedDatabaseURLCreatesNothing: "postgress://" is an error for every command, not an SQLite file in a
// directory named after the URL.
func TestMistypedDatabaseURLCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := []string{"SIGNET_DATABASE_URL=postgress://postgres@127.0.0.1:5432/test", "SIGNET_DATA_DIR=" + filepath.Join(dir, "data")}
	for _, args := range [][]string{{"migrate"}, {"keys", "list"}, {"serve"}, {"audit", "maintain"}} {
		out, err := run(t, env, args...)
		if err == nil || !strings.Contains(err.Error(), `unknown scheme "postgress"`) {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the commands created %v", entries)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartUpSaysWhatItRunsOn: SQLite with an unreachable Redis starts, warns that approvals will answer 503,
// and is not called production; every line stays JSON; a localhost issuer on another port is warned about.
func TestStartUpSaysWhatItRunsOn(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_LOG_FORMAT=json",
		"SIGNET_REDIS_URL=redis://127.0.0.1:1/0", "SIGNET_API_KEYS=bank:0123456789abcdef0123",
		"SIGNET_KEK=q0wLxGSEGpW1G1tx2d0k1m3vP9V0hP4a0bB5l3P6yS8="})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(&logs, cfg), ready, io.Discard) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	cancel()
	<-done
	var warned, mode bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		msg, _ := rec["msg"].(string)
		if strings.HasPrefix(msg, "Redis is unreachable at start-up") && rec["level"] == "WARN" {
			warned = true
		}
		if msg == "signet listening" {
			mode = true
			if rec["mode"] != "mixed (SQLite, Redis replay store)" {
				t.Errorf("mode %q", rec["mode"])
			}
		}
	}
	if !warned || !mode {
		t.Fatalf("warned %v, listening line %v:\n%s", warned, mode, logs.String())
	}
}

func TestHealthcheck(t *testing.T) {
	var ready atomic.Int32
	ready.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(ready.Load()))
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	env := []string{"SIGNET_HTTP_ADDR=:" + port}
	if out, err := run(t, env, "healthcheck"); err == nil || !strings.Contains(err.Error(), "answered 503") {
		t.Fatalf("not ready: %q %v", out, err)
	}
	ready.Store(http.StatusOK)
	if out, err := run(t, env, "healthcheck"); err != nil {
		t.Fatalf("ready: %q %v", out, err)
	}
	if out, err := run(t, nil, "healthcheck", "--url", srv.URL+"/readyz"); err != nil {
		t.Fatalf("--url: %q %v", out, err)
	}
	if out, err := run(t, nil, "healthcheck", "--url", srv.URL+"/nothing"); err == nil {
		t.Fatalf("a 404 passed: %q", out)
	}
}

// TestGatewayConfigProblemsAllAtOnce: signet gateway with a configuration that has an unknown key and a bad
// value reports both, with their lines, before it starts anything.
func TestGatewayConfigProblemsAllAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	conf := "upstream: http://127.0.0.1:1\njwks_url: http://127.0.0.1:1/jwks\nissuer: i\naudience: a\nunmatched: allow\n" +
		"consume: {redis_url: 'redis://127.0.0.1:1/0'}\nroutes:\n  - method: POST\n    path: /p\n    bindng: {amount: /a}\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, nil, "gateway", "--config", path)
	if err == nil {
		t.Fatal("started")
	}
	for _, want := range []string{"gateway config: 3 problems:", "  line 5    unmatched must be deny or proxy", `  line 10   unknown key "bindng"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
