package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/webhook"
)

type api struct {
	t      *testing.T
	base   string
	secret string
}

func (a api) call(method, path string, body any) (int, map[string]any, []byte) {
	a.t.Helper()
	return a.callWith("Bearer "+a.secret, method, path, body)
}

// callWith sends the request with the given Authorization header.
func (a api) callWith(auth, method, path string, body any) (int, map[string]any, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

// TestServeSendsWebhooksAndServesEvidence runs `signet serve` with webhooks on, approves a
// payment with a device key over HTTP, and checks that the bank's endpoint gets the signed event
// and that the evidence bundle verifies with `signet evidence verify`.
func TestServeSendsWebhooksAndServesEvidence(t *testing.T) {
	whSecret := strings.Repeat("w", 32)
	var mu sync.Mutex
	var got []webhook.Event
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(webhook.Secret(whSecret), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 0); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer receiver.Close()

	dir := t.TempDir()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_ADMIN_ADDR=127.0.0.1:0",
		"SIGNET_WEBHOOK_SECRET=" + whSecret, "SIGNET_WEBHOOK_DEFAULT_URL=" + receiver.URL + "/hooks"})
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
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	a := api{t: t, base: "http://" + <-ready, secret: strings.Split(cfg.APIKeys, ":")[1]}

	_, user, _ := a.call("POST", "/v1/users", map[string]string{"external_id": "cust-wire"})
	uid := user["id"].(string)
	_, code, _ := a.call("POST", "/v1/users/"+uid+"/registration-codes", nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	st, dev, body := a.call("POST", "/v1/devices", map[string]any{"registration_code": code["code"],
		"public_key": map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}})
	if st != 201 {
		t.Fatalf("register device: %d %s", st, body)
	}
	st, op, body := a.call("POST", "/v1/operations", map[string]any{"user_id": uid, "type": "payment", "amount": "310", "currency": "EUR",
		"payee": map[string]string{"account": "DE89370400440532013000", "name": "ACME GmbH"}})
	if st != 201 {
		t.Fatalf("create operation: %d %s", st, body)
	}
	id := op["id"].(string)
	if st, _, _ := a.call("GET", "/v1/operations/"+id+"/evidence", nil); st != 409 {
		t.Fatalf("evidence of a pending operation: %d", st)
	}
	dl, _ := base64.RawURLEncoding.DecodeString(op["dl"].(string))
	h := sha256.Sum256(dl)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	if st, _, body := a.callWith("Signet-Capability "+op["capability"].(string), "POST", "/v1/operations/"+id+"/approve", map[string]string{"credential_id": dev["credential_id"].(string),
		"signature": b64(sig)}); st != 200 {
		t.Fatalf("approve: %d %s", st, body)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no webhook within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if ev := got[0]; ev.OperationID != id || ev.Status != "APPROVED" || ev.Type != "operation.approved" || ev.ID != webhook.EventID(id, "APPROVED") {
		t.Errorf("event %+v", ev)
	}
	mu.Unlock()

	st, _, bundle := a.call("GET", "/v1/operations/"+id+"/evidence", nil)
	if st != 200 {
		t.Fatalf("evidence: %d %s", st, bundle)
	}
	path := filepath.Join(t.TempDir(), "evidence.json")
	_ = os.WriteFile(path, bundle, 0o600)
	_, _, jwks := a.call("GET", "/.well-known/jwks.json", nil)
	jwksPath := filepath.Join(t.TempDir(), "jwks.json")
	_ = os.WriteFile(jwksPath, jwks, 0o600)
	if out, err := run(t, nil, "evidence", "verify", "--jwks", jwksPath, path); err != nil || strings.Contains(out, "FAIL") ||
		!reportHas(out, "PASS  anchor") {
		t.Fatalf("evidence verify: %v\n%s", err, out)
	}
}

// reportHas finds "RESULT  check" as a line of the report (columns are padded), or text anywhere.
func reportHas(out, want string) bool {
	result, check, isLine := strings.Cut(want, "  ")
	if !isLine {
		return strings.Contains(out, want)
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, result); ok {
			if f := strings.Fields(rest); len(f) > 0 && f[0] == check {
				return true
			}
		}
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestEvidenceVerifyCommand(t *testing.T) {
	good := filepath.Join("..", "..", "evidence", "testdata", "approved.json")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	changed := filepath.Join(dir, "changed.json")
	_ = os.WriteFile(changed, bytes.Replace(raw, []byte(`"amount": "1250.50"`), []byte(`"amount": "1250.60"`), 1), 0o600)
	otherJWKS := filepath.Join(dir, "jwks.json")
	_ = os.WriteFile(otherJWKS, []byte(`{"keys":[]}`), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		want    []string
	}{
		{"missing file", []string{"evidence", "verify", filepath.Join(dir, "nope.json")}, true, nil},
		{"one changed byte", []string{"evidence", "verify", changed}, true, []string{"FAIL  seal", "FAIL  dynamic-linking", "does NOT verify"}},
		{"keys not in the trusted JWKS", []string{"evidence", "verify", "--jwks", otherJWKS, good}, true, []string{"FAIL  anchor"}},
		{"unreadable JWKS", []string{"evidence", "verify", "--jwks", changed + ".missing", good}, true, nil},
		{"as built", []string{"evidence", "verify", good}, false, []string{"PASS  seal", "PASS  signature", "SKIPPED  anchor", "every check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, nil, tt.args...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !reportHas(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestGatewayCommandRefusesBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	_ = os.WriteFile(path, []byte("upstream: ftp://x\nroutes: [{path: /p, bindings: {}}]\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"gateway", "--config", path + ".missing"}, "no such file"},
		{"bad file", []string{"gateway", "--config", path}, "bindings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := run(t, nil, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDemoPaymentsCommand(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd(nil)
	cmd.SetArgs([]string{"demo-payments", "--addr", addr})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var resp *http.Response
	var err error
	for range 100 {
		resp, err = http.Post("http://"+addr+"/payments", "application/json",
			strings.NewReader(`{"amount":"1.00","currency":"EUR","creditor_account":"DE89370400440532013000"}`))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
